/**
 * `ferry serve` as a user starts it, in the background: on port 0 with --json, so the test reads
 * the address it bound from its "listening" line and each request from the log lines after it.
 */

import type { ChildProcess } from "node:child_process";
import { type AsyncRun, startFerry } from "../helpers/cli.js";

export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`: what image references name. */
  host: string;
  /** Every JSON line printed so far (listening, request, stopped). */
  events(): Array<Record<string, unknown>>;
  /** The first JSON line (printed so far or later) that `matches`. */
  waitForEvent(
    matches: (event: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>>;
  /** Resolves when ferry serve has ended. */
  done: Promise<AsyncRun>;
  /** SIGTERM, then what it printed and how it ended. */
  stop(): Promise<AsyncRun>;
}

/**
 * Start `ferry serve --store STORE --json` plus `args` (a later `--addr` wins); resolves once
 * it listens. `text`: without --json (the access log goes to stderr as text lines).
 */
export async function startServe(
  store: string,
  args: string[] = [],
  options: { text?: boolean } = {},
): Promise<ServeProcess> {
  const { child, done } = startFerry(
    [
      "serve",
      "--store",
      store,
      "--addr",
      "127.0.0.1:0",
      ...(options.text ? [] : ["--json"]),
      ...args,
    ],
    { safetyNetMs: 600_000 },
  );
  let stdout = "";
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split("\n").find((l) => l.includes('"listening"'));
      if (line) resolve(JSON.parse(line) as Record<string, unknown>);
      const text = /^serving .* at (https?:\/\/\S+?): /m.exec(stdout);
      if (text) resolve({ url: text[1] });
    });
    void done.then((run) =>
      reject(new Error(`ferry serve ended before listening (exit ${run.code}):\n${run.stderr}`)),
    );
  });
  const started = await listening;
  const events = () =>
    stdout
      .split("\n")
      .filter((l) => l.startsWith("{") && l.endsWith("}"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  // Bound to every interface (0.0.0.0, ::): ask on loopback.
  const url = (started.url as string).replace(/\/\/(0\.0\.0\.0|\[::\]):/, "//127.0.0.1:");
  return {
    child,
    url,
    host: new URL(url).host,
    events,
    waitForEvent: (matches) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = events().find(matches);
          if (found) resolve(found);
          return found !== undefined;
        };
        if (check()) return;
        const onData = () => {
          if (check()) child.stdout?.off("data", onData);
        };
        child.stdout?.on("data", onData);
        void done.then(() => {
          if (!check()) reject(new Error("ferry serve ended without printing that line"));
        });
      }),
    done,
    stop: async () => {
      child.kill("SIGTERM");
      return done;
    },
  };
}

import { UsageError } from "../../errors.js";
import { serveStore } from "../../ops/serve.js";
import { accessLogJson, accessLogLine } from "../../serve/access-log.js";
import { isLoopback, parseListenAddress } from "../../serve/address.js";
import { escapeControls, terminalSafeJson } from "../../types/terminal-text.js";
import { readRegularFile } from "../../util/safe-open.js";
import { untilInterrupted } from "../interrupt.js";
import { resolveStoreDir } from "../store-location.js";
import type { ServeFlags } from "./serve.js";

/** How long answers under way may go on after Ctrl-C or SIGTERM. */
const GRACE_MS = 10_000;

async function readTls(flags: ServeFlags): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) return undefined;
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) {
    throw new UsageError("--tls-cert and --tls-key go together: give both, or neither for HTTP");
  }
  const [cert, key] = await Promise.all([
    readRegularFile(flags.tlsCert, { code: "EUSAGE", followLinks: true, what: "--tls-cert" }),
    readRegularFile(flags.tlsKey, { code: "EUSAGE", followLinks: true, what: "--tls-key" }),
  ]);
  return { cert, key };
}

/** `ferry serve` (loaded when the command runs: see ./serve.ts). */
export async function runServe(flags: ServeFlags): Promise<void> {
  const address = parseListenAddress(flags.addr);
  const tls = await readTls(flags);
  const json = Boolean(flags.json);
  const { server, storeDir } = await serveStore({
    storeDir: resolveStoreDir(flags.store),
    host: address.host,
    port: address.port,
    ...(tls ? { tls } : {}),
    limits: { maxConnections: flags.maxConnections },
    ...(flags.quiet
      ? {}
      : {
          onRequest: (record) => {
            if (json) process.stdout.write(`${accessLogJson(record)}\n`);
            else process.stderr.write(`${accessLogLine(record)}\n`);
          },
        }),
  });
  // The first Ctrl-C or SIGTERM ends serving gracefully; a second one stops ferry at once.
  const signal = untilInterrupted();
  if (!tls && !isLoopback(address.host)) {
    process.stderr.write(
      `ferry: warning: serving plain HTTP on ${escapeControls(address.host)}, which is not a loopback address: anyone on that network can read the images, and clients must be told to allow plain HTTP for it (docker's insecure-registries); give --tls-cert and --tls-key to serve HTTPS\n`,
    );
  }
  const host = new URL(server.url).host;
  if (json) {
    process.stdout.write(
      `${terminalSafeJson({ event: "listening", url: server.url, host: server.host, port: server.port, store: storeDir })}\n`,
    );
  } else {
    process.stdout.write(
      `${escapeControls(`serving ${storeDir} read-only at ${server.url}: docker pull ${host}/NAME:TAG (see ferry serve --help for names); Ctrl-C stops`)}\n`,
    );
  }
  const received = await signal;
  await server.stop(GRACE_MS);
  if (json) process.stdout.write(`${terminalSafeJson({ event: "stopped", signal: received })}\n`);
  else process.stdout.write(`stopped (${received})\n`);
}

/**
 * cli/interrupt.ts with its world injected (signal registration, stderr, exit, temp removal,
 * the platform): which signals are handled where, what the first and second signal do, and the
 * exit codes 130/143/129. The real signals are sent to real ferry processes in
 * test/stress/interrupt.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  cancellation,
  type InterruptIo,
  installInterruptHandlers,
  interruptSignal,
  interruptSignals,
} from "../../src/cli/interrupt.js";
import { InterruptedError, type InterruptSignal } from "../../src/errors.js";

function fakeIo(
  options: { platform?: NodeJS.Platform; interactive?: boolean; left?: string[] } = {},
) {
  const handlers = new Map<InterruptSignal, () => void>();
  const written: string[] = [];
  const exits: number[] = [];
  let removals = 0;
  const io: InterruptIo = {
    on: (signal, handler) => {
      handlers.set(signal, handler);
      return () => handlers.delete(signal);
    },
    write: (text) => written.push(text),
    interactive: options.interactive ?? false,
    exit: (code) => exits.push(code),
    removeTemps: () => {
      removals++;
      return options.left ?? [];
    },
    platform: options.platform ?? "linux",
  };
  const send = (signal: InterruptSignal) => {
    const handler = handlers.get(signal);
    if (!handler) throw new Error(`no handler for ${signal}`);
    handler();
  };
  return { io, handlers, written, exits, send, removals: () => removals };
}

describe("interrupt handling", () => {
  it("handles SIGINT, SIGTERM and SIGHUP; on Windows Ctrl-Break (SIGBREAK) too", () => {
    expect(interruptSignals("linux")).toEqual(["SIGINT", "SIGTERM", "SIGHUP"]);
    expect(interruptSignals("win32")).toEqual(["SIGINT", "SIGBREAK", "SIGTERM", "SIGHUP"]);
    const windows = fakeIo({ platform: "win32" });
    const handling = installInterruptHandlers(windows.io);
    expect([...windows.handlers.keys()].sort()).toEqual([
      "SIGBREAK",
      "SIGHUP",
      "SIGINT",
      "SIGTERM",
    ]);
    handling.uninstall();
    expect(windows.handlers.size).toBe(0);
  });

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const)(
    "a command that did not ask to stop cleanly stops at once on %s: exit %i",
    (signal, code) => {
      const fake = fakeIo();
      const handling = installInterruptHandlers(fake.io);
      try {
        fake.send(signal);
        expect(fake.exits).toEqual([code]);
        expect(fake.removals()).toBe(1);
        expect(fake.written).toHaveLength(1);
        expect(fake.written[0]).toMatch(
          new RegExp(
            `^ferry: interrupted by ${signal}: nothing was left half-written .*this run's temporary files were removed; running the same command again starts over\\n$`,
          ),
        );
      } finally {
        handling.uninstall();
      }
    },
  );

  it("a command that asked stops cleanly on the first signal; a second stops at once", () => {
    const fake = fakeIo({ interactive: true });
    const handling = installInterruptHandlers(fake.io);
    try {
      const signal = cancellation();
      expect(interruptSignal()).toBe(signal);
      fake.send("SIGINT");
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBeInstanceOf(InterruptedError);
      expect((signal.reason as InterruptedError).exitCode).toBe(130);
      expect(handling.received()).toBe("SIGINT");
      expect(fake.exits).toEqual([]);
      expect(fake.removals()).toBe(0);
      // A person at a terminal is told at once that ferry is stopping, and how to force it.
      expect(fake.written).toEqual([
        "ferry: SIGINT: stopping, removing this run's temporary files (Ctrl-C (or the same signal) again stops at once)\n",
      ]);

      fake.send("SIGINT");
      expect(fake.exits).toEqual([130]);
      expect(fake.removals()).toBe(1);
      expect(fake.written[1]).toMatch(/^ferry: stopped at once by SIGINT: /);
    } finally {
      handling.uninstall();
    }
  });

  it("says nothing before the final line when no terminal watches; names files it could not remove", () => {
    const fake = fakeIo({ left: ["/out/b.zip.4242.0123456789ab.tmp"] });
    const handling = installInterruptHandlers(fake.io);
    try {
      cancellation();
      fake.send("SIGTERM");
      expect(fake.written).toEqual([]);
      fake.send("SIGTERM");
      expect(fake.exits).toEqual([143]);
      expect(fake.written[0]).toMatch(
        /these temporary files could not be removed: \/out\/b\.zip\.4242\.0123456789ab\.tmp;/,
      );
    } finally {
      handling.uninstall();
    }
  });

  it("outside a CLI run the signal never aborts (ops called directly)", () => {
    expect(cancellation().aborted).toBe(false);
  });
});

describe("InterruptedError", () => {
  it("exits 128 + the signal's number; Ctrl-Break counts as Ctrl-C", () => {
    expect(new InterruptedError("SIGINT").exitCode).toBe(130);
    expect(new InterruptedError("SIGTERM").exitCode).toBe(143);
    expect(new InterruptedError("SIGHUP").exitCode).toBe(129);
    expect(new InterruptedError("SIGBREAK").exitCode).toBe(130);
    expect(new InterruptedError("SIGTERM").toJSON()).toMatchObject({
      code: "EINTERRUPTED",
      details: { signal: "SIGTERM" },
    });
  });
});

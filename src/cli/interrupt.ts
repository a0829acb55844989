/**
 * Ctrl-C, SIGTERM and SIGHUP (on Windows also Ctrl-Break, and closing the console window,
 * which Node reports as SIGHUP) while a command runs.
 *
 * A command that copies (save, load, pull) asks for `cancellation()` and passes the signal on
 * to ops, the engine and its sinks. The first signal aborts it: no new blob starts, blobs in
 * flight stop, the sink's `abort()` removes this run's temporary files (a bundle's
 * `OUT.zip.<pid>.<hex>.tmp`, a load's staging folder) and keeps what a re-run resumes from (the
 * download cache and its journals), and the command ends with an InterruptedError: one line
 * saying what state things are in and what running it again does, exit 130 (SIGINT, Ctrl-Break),
 * 143 (SIGTERM) or 129 (SIGHUP).
 *
 * A second signal, or the first one during a command that did not ask for cancellation (its
 * writes are atomic renames: nothing half-written can be left), stops ferry at once: the
 * temporary files listed in util/run-temps.ts are removed synchronously, one line is printed,
 * and the process exits with the same codes.
 */

import { INTERRUPT_EXIT_CODES, InterruptedError, type InterruptSignal } from "../errors.js";
import { removeRunTempsSync } from "../util/run-temps.js";

/** The signals handled here (SIGBREAK exists on Windows only). */
export function interruptSignals(platform: NodeJS.Platform = process.platform): InterruptSignal[] {
  return platform === "win32"
    ? ["SIGINT", "SIGBREAK", "SIGTERM", "SIGHUP"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
}

/** What the handlers do to the world, injectable for tests. */
export interface InterruptIo {
  /** Register a handler for a signal; returns how to remove it. */
  on(signal: InterruptSignal, handler: () => void): () => void;
  write(text: string): void;
  /** Whether a person watches stderr (a terminal): they get a line at once. */
  interactive: boolean;
  exit(code: number): void;
  removeTemps(): string[];
  platform: NodeJS.Platform;
}

const processIo = (): InterruptIo => ({
  on: (signal, handler) => {
    process.on(signal, handler);
    return () => {
      process.off(signal, handler);
    };
  },
  write: (text) => {
    process.stderr.write(text);
  },
  interactive: process.stderr.isTTY === true,
  exit: (code) => process.exit(code),
  removeTemps: removeRunTempsSync,
  platform: process.platform,
});

/** The handling installed for the command that runs now. */
export interface InterruptHandling {
  /** The signal that arrived, if one did (not counting one a command ends on by design). */
  received(): InterruptSignal | undefined;
  /** Remove the handlers (the command has finished). */
  uninstall(): void;
}

interface RunState {
  controller: AbortController;
  cooperative: boolean;
  /** The command ends on a signal by design (`ferry serve`): nothing to report about it. */
  endsOnSignal?: boolean;
  received?: InterruptSignal;
}

let current: RunState | undefined;

const never = new AbortController().signal;

/**
 * The running command's interruption signal, for parts that stop cleanly when it aborts (a
 * registry session's downloads); asking for it changes nothing else. Its reason is an
 * InterruptedError naming the signal. Outside a CLI run (tests calling ops directly), a signal
 * that never aborts.
 */
export function interruptSignal(): AbortSignal {
  return current?.controller.signal ?? never;
}

/**
 * The same signal, from a command that from now on stops cleanly on the first signal: it
 * passes it on to ops, the engine and its sinks (the copy). Until a command asks, the first
 * signal stops ferry at once (the phase before a copy writes nothing but listed temp files).
 */
export function cancellation(): AbortSignal {
  if (current) current.cooperative = true;
  return interruptSignal();
}

/**
 * For a command whose normal end is a signal (`ferry serve`): resolves with the first one, which
 * then stops nothing by itself (a second one still stops ferry at once). Outside a CLI run, never.
 */
export function untilInterrupted(): Promise<InterruptSignal> {
  const state = current;
  if (!state) return new Promise(() => {});
  state.cooperative = true;
  state.endsOnSignal = true;
  const { signal } = state.controller;
  return new Promise((resolve) => {
    const done = () => resolve(state.received as InterruptSignal);
    if (signal.aborted) done();
    else signal.addEventListener("abort", done, { once: true });
  });
}

/** The state line of a command stopped at once. */
function stoppedAtOnce(signal: InterruptSignal, second: boolean, left: string[]): string {
  const temps =
    left.length === 0
      ? "this run's temporary files were removed"
      : `these temporary files could not be removed: ${left.join(", ")}`;
  return `ferry: ${second ? "stopped at once" : "interrupted"} by ${signal}: nothing was left half-written (ferry writes every file under a temporary name and renames it when complete), and ${temps}; running the same command again starts over\n`;
}

/**
 * Handle the interrupting signals for one command run. The first signal aborts `cancellation()`
 * if the command asked for it, else (and on a second signal) ferry stops at once.
 */
export function installInterruptHandlers(io: InterruptIo = processIo()): InterruptHandling {
  const state: RunState = { controller: new AbortController(), cooperative: false };
  current = state;
  const stopNow = (signal: InterruptSignal, second: boolean) => {
    const left = io.removeTemps();
    io.write(stoppedAtOnce(signal, second, left));
    io.exit(INTERRUPT_EXIT_CODES[signal]);
  };
  const onSignal = (signal: InterruptSignal) => {
    if (state.received !== undefined || !state.cooperative) {
      const second = state.received !== undefined;
      state.received ??= signal;
      stopNow(signal, second);
      return;
    }
    state.received = signal;
    if (io.interactive && !state.endsOnSignal) {
      const again = io.platform === "win32" ? "Ctrl-C" : "Ctrl-C (or the same signal)";
      io.write(
        `ferry: ${signal}: stopping, removing this run's temporary files (${again} again stops at once)\n`,
      );
    }
    state.controller.abort(new InterruptedError(signal));
  };
  const removers = interruptSignals(io.platform).map((signal) =>
    io.on(signal, () => onSignal(signal)),
  );
  return {
    received: () => (state.endsOnSignal ? undefined : state.received),
    uninstall: () => {
      for (const remove of removers) remove();
      if (current === state) current = undefined;
    },
  };
}

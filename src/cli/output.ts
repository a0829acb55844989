/**
 * Rendering for humans (aligned tables, sizes) and machines (JSON). Only the CLI prints, and
 * everything it prints passes through here or through the error report of main.ts: control
 * characters in text from outside (tags, names, registry texts, ferry.json fields) are shown
 * escaped, never sent to the terminal (see src/types/terminal-text.ts).
 */

import { scaleBytes } from "../types/byte-units.js";
import {
  escapeControls,
  escapeControlsKeepingLines,
  terminalSafeJson,
} from "../types/terminal-text.js";

export { escapeControls };

export interface Output {
  json: boolean;
  /**
   * Print a result: JSON when --json, else the human text. Either way no control character from
   * the values reaches the terminal: the text keeps its line breaks and nothing else raw; a
   * printer escapes a single value with `escapeControls` so it cannot start a line of its own.
   */
  result(value: unknown, human: () => string): void;
  /** A note for humans on stderr (silent under --json or --quiet), control characters escaped. */
  note(text: string): void;
}

export function createOutput(options: { json?: boolean; quiet?: boolean }): Output {
  const json = Boolean(options.json);
  return {
    json,
    result(value, human) {
      if (json) process.stdout.write(`${terminalSafeJson(value, 2)}\n`);
      else {
        const text = escapeControlsKeepingLines(human());
        if (text) process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
      }
    },
    note(text) {
      if (!json && !options.quiet) process.stderr.write(`${escapeControlsKeepingLines(text)}\n`);
    },
  };
}

/** Sizes the way docker prints them: decimal units, three significant digits. */
export function formatSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  const { value, unit } = scaleBytes(bytes, 1000, units);
  const digits = unit === 0 ? 0 : value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${value.toFixed(digits)}${units[unit]}`;
}

export function formatSeconds(seconds: number): string {
  return seconds < 10 ? `${seconds.toFixed(2)}s` : `${seconds.toFixed(1)}s`;
}

/** "3 minutes ago", like docker's CREATED column. */
export function formatAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "N/A";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "N/A";
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  const steps: Array<[number, string]> = [
    [60 * 60 * 24 * 365, "year"],
    [60 * 60 * 24 * 30, "month"],
    [60 * 60 * 24 * 7, "week"],
    [60 * 60 * 24, "day"],
    [60 * 60, "hour"],
    [60, "minute"],
  ];
  for (const [size, name] of steps) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${name}${n === 1 ? "" : "s"} ago`;
    }
  }
  return "Less than a minute ago";
}

/**
 * An aligned table with a header row, columns separated by three spaces (docker style). Each
 * cell is one line: its control characters (a newline too) are shown escaped.
 */
export function formatTable(headers: string[], cells: string[][]): string {
  const rows = cells.map((row) => row.map(escapeControls));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/**
 * The access log's lines: one per request, everything the client sent escaped (a path or a
 * user agent cannot move the cursor or forge another line). Pure: no I/O.
 */

import { truncateText } from "../types/bounded-list.js";
import { escapeControls, terminalSafeJson } from "../types/terminal-text.js";
import type { RequestRecord } from "./server.js";

/** Characters of a path or user agent shown at most. */
const SHOWN = 300;

function shown(text: string): string {
  return escapeControls(truncateText(text, SHOWN));
}

/** `2026-01-01T00:00:00.000Z 127.0.0.1 "GET /v2/" 200 3B 1ms` (+ error code, problem). */
export function accessLogLine(record: RequestRecord): string {
  const parts = [
    record.time,
    shown(record.remote),
    `"${shown(record.method)} ${shown(record.path)}"`,
    String(record.status),
    `${record.bytes}B`,
    `${record.milliseconds}ms`,
  ];
  if (record.error !== undefined) parts.push(shown(record.error));
  if (record.incomplete) parts.push("(cut short)");
  if (record.userAgent !== undefined) parts.push(`"${shown(record.userAgent)}"`);
  if (record.problem !== undefined) parts.push(`problem: ${shown(record.problem)}`);
  return parts.join(" ");
}

/** The same as one JSON line (`{"event":"request",...}`), strings cut but not escaped. */
export function accessLogJson(record: RequestRecord): string {
  return terminalSafeJson({
    event: "request",
    ...record,
    path: truncateText(record.path, SHOWN),
    ...(record.userAgent === undefined ? {} : { userAgent: truncateText(record.userAgent, SHOWN) }),
  });
}

/**
 * `--addr`: where ferry serve listens, and whether that is this machine only. Pure: no I/O.
 */

import { isIP } from "node:net";
import { UsageError } from "../errors.js";
import { escapeControls } from "../types/terminal-text.js";

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_ADDRESS = "127.0.0.1:5000";

const HOST_NAME =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

function bad(text: string, why: string): UsageError {
  return new UsageError(`--addr ${escapeControls(text)}: ${why}`, {
    hint: "write HOST:PORT (127.0.0.1:5000, [::1]:5000, 0.0.0.0:5000 for every interface) or a port alone (loopback)",
  });
}

function parsePort(text: string, port: string): number {
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw bad(text, "the port must be a number from 0 to 65535 (0: any free port)");
  }
  return Number(port);
}

/** `HOST:PORT`, `[IPv6]:PORT`, or `PORT` alone (on 127.0.0.1). */
export function parseListenAddress(text: string): ListenAddress {
  if (/^\d+$/.test(text)) return { host: "127.0.0.1", port: parsePort(text, text) };
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (bracketed) {
    const [, host, port] = bracketed as unknown as [string, string, string];
    if (isIP(host) !== 6) throw bad(text, "the part in brackets is not an IPv6 address");
    return { host, port: parsePort(text, port) };
  }
  const colon = text.lastIndexOf(":");
  if (colon === -1) throw bad(text, "the port is missing");
  const host = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (host === "") throw bad(text, "the host is missing");
  if (host.includes(":")) throw bad(text, "write an IPv6 address in brackets: [::1]:5000");
  if (isIP(host) === 0 && !HOST_NAME.test(host))
    throw bad(text, "the host is not an address or a host name");
  return { host, port: parsePort(text, port) };
}

/** Whether the address is reachable from this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return mapped !== null && (mapped[1] as string).startsWith("127.");
}

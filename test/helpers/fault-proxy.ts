/**
 * A fault-injecting HTTP proxy for tests, in front of a registry (or any HTTP server) on
 * 127.0.0.1. Rules matched by request path inject faults: an error status (with headers such
 * as Retry-After), a connection reset after N body bytes, a stall after N bytes, one flipped
 * byte, a redirect, or a fabricated answer. It counts the body bytes it forwards per path and
 * logs every request, so tests can prove what was (re)downloaded.
 */

import http from "node:http";
import type { Socket } from "node:net";
import { listenOnLoopback } from "./loopback.js";

export type Fault =
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  | { kind: "reset"; afterBytes: number }
  | { kind: "stall"; afterBytes: number }
  | { kind: "corrupt"; atByte: number }
  | { kind: "redirect"; location: string }
  | { kind: "respond"; handler: RespondHandler };

/** A "respond" fault's answer, written by the test itself. */
export type RespondHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export interface FaultRule {
  match: RegExp;
  fault: Fault;
  /** How many requests it applies to (default 1; Infinity for all). */
  times?: number;
  /** Only for requests with this method (default any). */
  method?: string;
}

export interface ProxyRequestLog {
  method: string;
  path: string;
  range?: string;
  authorized: boolean;
  fault?: Fault["kind"];
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`. */
  host: string;
  url: string;
  requests: ProxyRequestLog[];
  /** Body bytes forwarded to clients, by path (no query). */
  bytesSent: Map<string, number>;
  add(rule: FaultRule): void;
  clear(): void;
  /** Resolves when `count` bytes of `path` have been forwarded in total (now, if they were). */
  waitForBytes(pathPart: string, count: number): Promise<void>;
  stop(): Promise<void>;
}

interface ActiveRule extends FaultRule {
  remaining: number;
}

/** Start a proxy to `target` (`http://127.0.0.1:PORT`). */
export async function startFaultProxy(
  target: string,
  options: { delayMs?: number } = {},
): Promise<FaultProxy> {
  const upstream = new URL(target);
  const rules: ActiveRule[] = [];
  const requests: ProxyRequestLog[] = [];
  const bytesSent = new Map<string, number>();
  const waiters: Array<{ path: string; count: number; resolve: () => void }> = [];
  const sockets = new Set<Socket>();

  /** Body bytes forwarded so far for every path containing `pathPart`. */
  const sentFor = (pathPart: string) =>
    [...bytesSent].filter(([p]) => p.includes(pathPart)).reduce((s, [, v]) => s + v, 0);

  const count = (path: string, n: number) => {
    const total = (bytesSent.get(path) ?? 0) + n;
    bytesSent.set(path, total);
    for (const waiter of [...waiters]) {
      if (sentFor(waiter.path) >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };

  const takeRule = (method: string, path: string): Fault | undefined => {
    for (const rule of rules) {
      if (rule.remaining <= 0 || !rule.match.test(path) || (rule.method && rule.method !== method))
        continue;
      rule.remaining--;
      return rule.fault;
    }
    return undefined;
  };

  const server = http.createServer(async (request, response) => {
    const method = request.method ?? "GET";
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const fault = takeRule(method, request.url ?? "/");
    requests.push({
      method,
      path,
      ...(request.headers.range ? { range: request.headers.range } : {}),
      authorized: request.headers.authorization !== undefined,
      ...(fault ? { fault: fault.kind } : {}),
    });
    if (fault?.kind === "status") {
      request.resume();
      response.writeHead(fault.status, { "Content-Type": "application/json", ...fault.headers });
      response.end(fault.body ?? '{"errors":[{"code":"UNKNOWN","message":"injected"}]}');
      return;
    }
    if (fault?.kind === "redirect") {
      request.resume();
      response.writeHead(307, { Location: fault.location }).end();
      return;
    }
    if (fault?.kind === "respond") {
      fault.handler(request, response);
      return;
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method,
        path: request.url,
        headers: request.headers,
      },
      (upstreamResponse) => {
        response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        let sent = 0;
        upstreamResponse.on("data", (chunk: Buffer) => {
          let data = chunk;
          if (fault?.kind === "reset" || fault?.kind === "stall") {
            if (sent + data.length >= fault.afterBytes) {
              data = data.subarray(0, Math.max(0, fault.afterBytes - sent));
              if (data.length) response.write(data);
              count(path, data.length);
              sent += data.length;
              upstreamResponse.destroy();
              if (fault.kind === "reset") response.socket?.resetAndDestroy();
              return;
            }
          }
          if (
            fault?.kind === "corrupt" &&
            fault.atByte >= sent &&
            fault.atByte < sent + data.length
          ) {
            data = Buffer.from(data);
            const i = fault.atByte - sent;
            data[i] = (data[i] ?? 0) ^ 0xff;
          }
          sent += data.length;
          count(path, data.length);
          if (!response.write(data)) {
            upstreamResponse.pause();
            response.once("drain", () => upstreamResponse.resume());
          }
        });
        upstreamResponse.on("end", () => response.end());
      },
    );
    forward.on("error", () => response.destroy());
    request.pipe(forward);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const port = await listenOnLoopback(server);
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    bytesSent,
    add(rule) {
      rules.push({ ...rule, remaining: rule.times ?? 1 });
    },
    clear() {
      rules.length = 0;
      requests.length = 0;
      bytesSent.clear();
    },
    waitForBytes(pathPart, n) {
      // Already there: resolve now (a waiter added after the last byte would wait forever).
      if (sentFor(pathPart) >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ path: pathPart, count: n, resolve }));
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

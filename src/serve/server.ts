/**
 * The HTTP(S) server of `ferry serve`: bounded (connections, header size, time to send a
 * request, idle sockets), every request logged, a graceful stop that lets answers under way
 * finish for a while, then cuts what is left.
 */

import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { FerryError, UsageError } from "../errors.js";
import { DistributionError } from "./distribution-error.js";
import { Exchange } from "./exchange.js";
import { answer, type ServeContext } from "./handlers.js";
import { FactsCache } from "./manifest-graph.js";
import { parseRequest } from "./route.js";
import { SnapshotSource } from "./snapshot.js";
import type { StoreReader } from "./store-reader.js";

/** What the access log gets for each request, once its answer is over. */
export interface RequestRecord {
  time: string;
  remote: string;
  method: string;
  /** The path and query as sent (the log escapes it). */
  path: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  milliseconds: number;
  /** The error code answered. */
  error?: string;
  /** The answer was cut short (the client went away, or a read failed mid-way). */
  incomplete?: true;
  /** A problem on the server's side: a damaged or unreadable store file. */
  problem?: string;
  userAgent?: string;
}

export interface ServerLimits {
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
  /** Bytes of request line and headers. */
  maxHeaderBytes: number;
  /** Time a client has to send its request line and headers. */
  headersTimeoutMs: number;
  /** Time a connection may sit with nothing sent or received. */
  idleTimeoutMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxConnections: 128,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 20_000,
  idleTimeoutMs: 120_000,
};

export interface ServerOptions {
  reader: StoreReader;
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer };
  limits?: Partial<ServerLimits>;
  onRequest?: (record: RequestRecord) => void;
}

export interface RunningServer {
  /** `http://127.0.0.1:5000` (the address actually bound: port 0 becomes the real port). */
  url: string;
  host: string;
  port: number;
  /** Stop accepting; answers under way get `graceMs`, then their connections are cut. */
  stop(graceMs: number): Promise<void>;
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** How a request Node could not parse is answered. */
const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** A listen error in words: the address in use, not available here, not allowed. */
function listenError(error: unknown, where: string): FerryError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") {
    return new FerryError("EIO", `cannot listen on ${where}: the address is already in use`, {
      hint: "stop what listens there, or choose another port with --addr HOST:PORT",
      cause: error,
    });
  }
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new UsageError(`cannot listen on ${where}: no such address on this machine`, {
      hint: "use an address of one of this machine's interfaces, 127.0.0.1, or 0.0.0.0 for all",
      cause: error,
    });
  }
  if (code === "EACCES") {
    return new FerryError("EIO", `cannot listen on ${where}: permission denied`, {
      hint: "ports below 1024 need privileges: choose a port from 1024 up",
      cause: error,
    });
  }
  return new FerryError("EIO", `cannot listen on ${where}: ${(error as Error).message}`, {
    cause: error,
  });
}

function tlsServer(
  serverOptions: http.ServerOptions,
  tls: { cert: Buffer; key: Buffer },
  onRequest: (request: IncomingMessage, response: ServerResponse) => void,
): https.Server {
  try {
    return https.createServer({ ...serverOptions, cert: tls.cert, key: tls.key }, onRequest);
  } catch (error) {
    throw new UsageError(`--tls-cert / --tls-key cannot be used: ${(error as Error).message}`, {
      hint: "give a PEM certificate (chain) and the PEM private key that belongs to it",
      cause: error,
    });
  }
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const facts = new FactsCache();
  const snapshots = new SnapshotSource(options.reader, facts);
  let stopping = false;
  const active = new Set<ServerResponse>();
  let allAnswered: (() => void) | undefined;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const started = performance.now();
    const exchange = new Exchange(request, response);
    active.add(response);
    if (stopping) response.setHeader("Connection", "close");
    response.once("close", () => {
      active.delete(response);
      const record: RequestRecord = {
        time: new Date().toISOString(),
        remote: request.socket.remoteAddress ?? "?",
        method: request.method ?? "?",
        path: request.url ?? "",
        status: response.statusCode,
        bytes: exchange.sent,
        milliseconds: Math.round(performance.now() - started),
      };
      if (exchange.errorCode !== undefined) record.error = exchange.errorCode;
      if (!response.writableFinished) record.incomplete = true;
      if (exchange.problem !== undefined) record.problem = exchange.problem;
      const agent = request.headers["user-agent"];
      if (agent !== undefined) record.userAgent = agent;
      options.onRequest?.(record);
      if (stopping) {
        server.closeIdleConnections();
        if (active.size === 0) allAnswered?.();
      }
    });
    let view: ReturnType<SnapshotSource["current"]> | undefined;
    const context: ServeContext = {
      reader: options.reader,
      snapshot: () => {
        view ??= snapshots.current();
        return view;
      },
    };
    try {
      await answer(exchange, context, parseRequest(request.method ?? "", request.url ?? ""));
    } catch (error) {
      if (!(error instanceof DistributionError)) exchange.noteProblem(error);
      if (response.headersSent) {
        // Part of the answer went out: cut the connection, so it is never taken for complete.
        response.destroy();
        return;
      }
      exchange.sendError(
        error instanceof DistributionError
          ? error
          : new DistributionError(
              "UNKNOWN",
              "the store could not answer (a damaged or unreadable file): the server's log says which",
            ),
      );
    }
  };

  const serverOptions: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.headersTimeoutMs + 10_000,
    keepAliveTimeout: 5_000,
  };
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    void handle(request, response);
  };
  const server = options.tls
    ? tlsServer(serverOptions, options.tls, onRequest)
    : http.createServer(serverOptions, onRequest);
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleTimeoutMs, (socket: Socket) => socket.destroy());
  // A request that breaks HTTP, sends too many header bytes or takes too long to send them is
  // answered the way Node answers it (400, 431, 408) and logged; it never stops the server.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const status = CLIENT_ERROR_STATUS[error.code ?? ""] ?? 400;
    const remote = socket.remoteAddress ?? "?";
    // Only on a connection that has not answered yet: never in the middle of another answer.
    if (socket.writable && socket.bytesWritten === 0) {
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`,
        () => socket.destroy(),
      );
    } else {
      socket.destroy();
    }
    const packet = (error as { rawPacket?: unknown }).rawPacket;
    const tlsHello = Buffer.isBuffer(packet) && packet[0] === 0x16;
    options.onRequest?.({
      time: new Date().toISOString(),
      remote,
      method: "-",
      path: "-",
      status,
      bytes: 0,
      milliseconds: 0,
      // A client that tried HTTPS on this plain-HTTP port (docker does, unless told otherwise).
      error: tlsHello ? "TLS_ON_PLAIN_HTTP" : (error.code ?? "CLIENT_ERROR"),
    });
  });

  const where = `${formatHost(options.host)}:${options.port}`;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(listenError(error, where)));
    server.listen(options.port, options.host, () => resolve());
  });
  server.on("error", () => {});
  const address = server.address() as AddressInfo;
  const url = `${options.tls ? "https" : "http"}://${formatHost(address.address)}:${address.port}`;

  let stopped: Promise<void> | undefined;
  let cutNow: (() => void) | undefined;
  const stop = (graceMs: number): Promise<void> => {
    if (stopped !== undefined) {
      // Asked again (a second Ctrl-C): cut at once if the first request gave more time.
      if (graceMs === 0) cutNow?.();
      return stopped;
    }
    stopped = (async () => {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active.size > 0 && graceMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          allAnswered = resolve;
          cutNow = resolve;
          timer = setTimeout(resolve, graceMs);
        });
        clearTimeout(timer);
      }
      server.closeAllConnections();
      await closed;
    })();
    return stopped;
  };
  return { url, host: address.address, port: address.port, stop };
}

import type http from "node:http";
import net from "node:net";
import tls from "node:tls";
import type { ProxyConfig } from "../../types/proxy.js";
import { openTunnel, type ProxyRoute, routeFor } from "./proxy-tunnel.js";

/**
 * A minimal HTTP/1.1 client for bodyless requests (blob GETs) whose response bodies are read
 * straight from the socket into buffers the caller owns (`RawBody.fill`), with `onread`: no
 * Buffer per socket read, no stream, no HTTP parser objects. Node's http client allocates a
 * fresh 64 KiB buffer for every read; at a gigabyte per second that churn made glibc hand
 * memory back and fault it in again, and receiving cost several times what curl spends. Here
 * the kernel copies body bytes into the caller's batch buffer and nothing else touches them.
 *
 * Only what blob downloads need: GET/HEAD without a request body, Content-Length, chunked or
 * close-delimited bodies, keep-alive reuse per origin. Everything else (uploads, token and
 * manifest requests) keeps using node:http.
 *
 * Through a proxy: http URLs are asked of the proxy in absolute form (`GET http://host/path`)
 * on a connection to it, read with `onread` as above; https URLs go through a CONNECT tunnel
 * with TLS inside, whose bytes Node hands over as stream chunks (it offers no `onread` for TLS
 * over an existing socket), copied into the same buffers (`feed`). Without a proxy nothing of
 * this runs.
 */

/** How the connection pool connects: TLS material for https, the proxies. */
export interface RawConnectOptions {
  /** For https: CA list (undefined: the system's), client certificate, verification. */
  tls?: {
    ca?: string[] | undefined;
    cert?: string | undefined;
    key?: string | undefined;
    verify: boolean;
  };
  /** Proxies (see `proxyConfigFrom`); undefined: every host directly. */
  proxy?: ProxyConfig | undefined;
  /** How long a proxy may stay silent while a tunnel is set up (default: the stall timeout). */
  tunnelTimeoutMs?: number | undefined;
}

export interface RawRequest {
  method: "GET" | "HEAD";
  headers: Record<string, string>;
  stallTimeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface RawResponseHead {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
}

/** The errors a raw exchange fails with carry Node's codes, for `networkError`. */
function codedError(message: string, code: string): NodeJS.ErrnoException {
  const error = new Error(message) as NodeJS.ErrnoException;
  error.code = code;
  return error;
}

const HEAD_LIMIT = 64 * 1024;
/**
 * The connection's own buffer: the response head, and body bytes nobody asked for yet. Reads
 * into it are at most READ_BYTES and stop once PAUSE_BYTES wait, so it never fills up.
 */
const SCRATCH_BYTES = 128 * 1024;
const READ_BYTES = 64 * 1024;
const PAUSE_BYTES = 32 * 1024;
/** Idle keep-alive connections are closed after this long. */
const IDLE_MS = 5_000;

type Framing =
  | { kind: "length"; remaining: number }
  | { kind: "chunked" }
  | { kind: "close" }
  | { kind: "none" };

/** Where `fill` wants bytes: `buffer[offset + filled .. offset + length)`. */
interface FillTarget {
  buffer: Uint8Array;
  offset: number;
  length: number;
  filled: number;
  resolve: (count: number) => void;
  reject: (error: unknown) => void;
}

/**
 * The body of one response. `fill` is the fast path; iterating yields copies (for small
 * bodies: error documents, redirects).
 */
export class RawBody implements AsyncIterable<Buffer> {
  constructor(
    private readonly exchange: Exchange,
    readonly statusMessage: string,
  ) {}

  /**
   * Fill `buffer[offset, offset + length)` with body bytes; resolves with the count when the
   * range is full or the body ended (0: nothing left). Several fills may wait at once: they get
   * the body's bytes in the order they were asked for, so the socket always has somewhere to
   * put them.
   */
  fill(buffer: Uint8Array, offset: number, length: number): Promise<number> {
    return this.exchange.fill(buffer, offset, length);
  }

  destroy(error?: Error): void {
    this.exchange.destroy(error);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    while (true) {
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      const count = await this.fill(buffer, 0, buffer.length);
      if (count === 0) return;
      yield buffer.subarray(0, count);
    }
  }
}

/** Chunked transfer coding, decoded as bytes arrive (data copied out, framing dropped). */
class ChunkedDecoder {
  private state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  private line = "";
  private remaining = 0;

  get done(): boolean {
    return this.state === "done";
  }

  /**
   * Decode from `input`: data bytes go to `take(view)` (which returns how many it took; fewer
   * means stop). Returns how many input bytes were consumed.
   */
  decode(input: Uint8Array, take: (data: Uint8Array) => number): number {
    let at = 0;
    while (at < input.length && this.state !== "done") {
      if (this.state === "data") {
        const view = input.subarray(at, at + Math.min(this.remaining, input.length - at));
        const taken = take(view);
        at += taken;
        this.remaining -= taken;
        if (this.remaining === 0) this.state = "data-end";
        if (taken < view.length) return at;
        continue;
      }
      const newline = input.indexOf(0x0a, at);
      const end = newline < 0 ? input.length : newline + 1;
      this.line += Buffer.from(input.subarray(at, end)).toString("latin1");
      at = end;
      if (this.line.length > 8192) throw codedError("chunked framing: line too long", "EPROTO");
      if (newline < 0) continue;
      const text = this.line.trim();
      this.line = "";
      if (this.state === "data-end") {
        if (text !== "") throw codedError("chunked framing: no CRLF after data", "EPROTO");
        this.state = "size";
      } else if (this.state === "size") {
        const size = Number.parseInt(text.split(";")[0] ?? "", 16);
        if (!Number.isSafeInteger(size) || size < 0) {
          throw codedError(`chunked framing: bad chunk size ${JSON.stringify(text)}`, "EPROTO");
        }
        if (size === 0) this.state = "trailer";
        else {
          this.remaining = size;
          this.state = "data";
        }
      } else if (this.state === "trailer" && text === "") {
        this.state = "done";
      }
    }
    return at;
  }
}

/** One request/response on a connection. */
class Exchange {
  phase: "head" | "body" | "done" | "failed" = "head";
  framing: Framing = { kind: "none" };
  keepAlive = false;
  private chunked: ChunkedDecoder | undefined;
  /** Fills waiting for bytes, served in order (the first one gets the next bytes). */
  private readonly targets: FillTarget[] = [];
  private error: unknown;
  private bodyBytes = 0;
  onHead: ((head: RawResponseHead) => void) | undefined;
  onFail: ((error: unknown) => void) | undefined;
  onDone: (() => void) | undefined;

  constructor(
    readonly connection: RawConnection,
    private readonly stallTimeoutMs: number,
    readonly url: URL,
  ) {}

  /** Where the next socket read should go: the fill target when bytes can land there as-is. */
  readTarget(): Uint8Array | undefined {
    const target = this.targets[0];
    if (
      this.phase !== "body" ||
      !target ||
      this.framing.kind === "chunked" ||
      this.connection.pending > 0
    )
      return undefined;
    const end =
      this.framing.kind === "length"
        ? Math.min(target.length, target.filled + this.framing.remaining)
        : target.length;
    if (end <= target.filled) return undefined;
    return target.buffer.subarray(target.offset + target.filled, target.offset + end);
  }

  /** `count` bytes landed in the fill target directly. */
  landed(count: number): void {
    const target = this.targets[0];
    if (!target) return;
    target.filled += count;
    this.bodyBytes += count;
    if (this.framing.kind === "length") this.framing.remaining -= count;
    this.afterBody();
  }

  /** Take body bytes from the connection's scratch buffer (returns how many were taken). */
  takeScratch(input: Uint8Array): number {
    if (this.phase !== "body") return 0;
    if (this.framing.kind === "chunked") {
      const decoder = this.chunked as ChunkedDecoder;
      const used = decoder.decode(input, (data) => this.copyIn(data));
      this.afterBody();
      return used;
    }
    let view = input;
    if (this.framing.kind === "length") {
      if (input.length > this.framing.remaining) {
        // More than the response declared: the connection cannot be trusted further.
        this.keepAlive = false;
        view = input.subarray(0, this.framing.remaining);
      }
    }
    const taken = this.copyIn(view);
    if (this.framing.kind === "length") this.framing.remaining -= taken;
    this.afterBody();
    return taken === view.length ? input.length : taken;
  }

  private copyIn(data: Uint8Array): number {
    let taken = 0;
    for (const target of this.targets) {
      if (taken === data.length) break;
      const count = Math.min(data.length - taken, target.length - target.filled);
      target.buffer.set(data.subarray(taken, taken + count), target.offset + target.filled);
      target.filled += count;
      taken += count;
    }
    this.bodyBytes += taken;
    return taken;
  }

  private bodyEnded(): boolean {
    switch (this.framing.kind) {
      case "length":
        return this.framing.remaining === 0;
      case "chunked":
        return (this.chunked as ChunkedDecoder).done;
      case "none":
        return true;
      default:
        return false;
    }
  }

  private afterBody(): void {
    if (this.phase === "body" && this.bodyEnded()) this.finish();
    while (this.targets.length > 0) {
      const target = this.targets[0] as FillTarget;
      if (target.filled < target.length && this.phase !== "done") break;
      this.targets.shift();
      target.resolve(target.filled);
    }
  }

  /** The head arrived: decide the framing. */
  startBody(head: RawResponseHead, method: string, httpVersion: string): void {
    const connection = (head.headers.connection ?? "").toString().toLowerCase();
    this.keepAlive =
      httpVersion === "1.1" ? !connection.includes("close") : connection.includes("keep-alive");
    const encoding = (head.headers["transfer-encoding"] ?? "").toString().toLowerCase();
    const length = head.headers["content-length"];
    if (method === "HEAD" || head.status === 204 || head.status === 304 || head.status < 200) {
      this.framing = { kind: "none" };
    } else if (encoding.includes("chunked")) {
      this.framing = { kind: "chunked" };
      this.chunked = new ChunkedDecoder();
    } else if (length !== undefined && /^\d+$/.test(String(length).trim())) {
      this.framing = { kind: "length", remaining: Number(String(length).trim()) };
    } else {
      this.framing = { kind: "close" };
      this.keepAlive = false;
    }
    this.phase = "body";
    if (this.bodyEnded()) this.finish();
  }

  fill(buffer: Uint8Array, offset: number, length: number): Promise<number> {
    if (this.phase === "failed") return Promise.reject(this.error);
    if (this.phase === "done" || length === 0) return Promise.resolve(0);
    return new Promise<number>((resolve, reject) => {
      this.targets.push({ buffer, offset, length, filled: 0, resolve, reject });
      this.connection.setStall(this.stallTimeoutMs);
      this.connection.drain();
      if (this.targets.length > 0) this.connection.want();
    });
  }

  /** The connection closed cleanly (FIN): the end of a close-delimited body, else a cut. */
  ended(): void {
    if (this.phase === "body" && this.framing.kind === "close") {
      this.finish();
      this.afterBody();
      return;
    }
    this.fail(codedError("connection closed before the response ended", "ECONNRESET"));
  }

  private finish(): void {
    this.phase = "done";
    this.onDone?.();
    // Once the caller that noticed the end has taken the bytes (scratch bookkeeping settled).
    queueMicrotask(() => this.connection.exchangeDone(this));
  }

  fail(error: unknown): void {
    if (this.phase === "done" || this.phase === "failed") return;
    this.phase = "failed";
    this.error = error;
    this.keepAlive = false;
    // Bytes that landed before the failure are handed over (a download resumes after them);
    // later fills fail.
    for (const target of this.targets.splice(0)) {
      if (target.filled > 0) target.resolve(target.filled);
      else target.reject(error);
    }
    this.onFail?.(error);
    this.connection.exchangeDone(this);
  }

  destroy(error?: Error): void {
    if (this.phase === "done") return;
    this.fail(error ?? codedError("response body abandoned", "ECANCELED"));
  }
}

/** One keep-alive connection, read with `onread` into the exchange's buffers or a scratch. */
class RawConnection {
  readonly socket: net.Socket;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  /** Unconsumed bytes in scratch: [start, end). */
  private start = 0;
  private end = 0;
  private head = "";
  private exchange: Exchange | undefined;
  private paused = false;
  /** The socket ended while body bytes still waited in scratch (see the "end" handler). */
  private endedWithBytes = false;
  /** The last read buffer handed out was the exchange's fill target. */
  private direct = false;
  private idleTimer: NodeJS.Timeout | undefined;
  closed = false;
  private method = "GET";
  /** What a chunk had left when reading paused (streamed connections only). */
  private held: Buffer | undefined;
  /** The underlying connection to the proxy, under TLS in a tunnel (ref'd and unref'd with it). */
  private readonly tunnel: net.Socket | undefined;

  /**
   * `route`: the proxy this connection goes through; for https, `tunnel` is the connection to
   * it with the CONNECT tunnel already open.
   */
  constructor(
    readonly key: string,
    url: URL,
    options: RawConnectOptions,
    private readonly pool: RawPool,
    private readonly route?: ProxyRoute,
    tunnel?: net.Socket,
  ) {
    const onread = {
      buffer: () => this.readBuffer(),
      callback: (count: number) => this.onRead(count),
    };
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, "");
    this.tunnel = tunnel;
    if (url.protocol === "https:") {
      const settings = options.tls ?? { verify: true };
      this.socket = tls.connect({
        host,
        port,
        ...(net.isIP(host) ? {} : { servername: host }),
        ...(settings.ca?.length ? { ca: settings.ca } : {}),
        ...(settings.cert ? { cert: settings.cert } : {}),
        ...(settings.key ? { key: settings.key } : {}),
        rejectUnauthorized: settings.verify,
        ALPNProtocols: ["http/1.1"],
        ...(tunnel ? { socket: tunnel } : { onread }),
      } as tls.ConnectionOptions);
      if (tunnel) this.socket.on("data", (chunk: Buffer) => this.feed(chunk));
    } else if (route) {
      // Plain http through the proxy: requests in absolute form on a connection to it.
      this.socket = net.connect({ host: route.host, port: route.port, onread });
    } else {
      this.socket = net.connect({ host, port, onread });
    }
    this.socket.setNoDelay(true);
    this.socket.on("error", (error) => this.close(error));
    this.socket.on("end", () => {
      const exchange = this.exchange;
      this.closed = true;
      this.pool.forget(this);
      if (exchange?.phase === "body" && this.start < this.end) {
        // The server closed right after sending (tinyproxy does after every answer): the last
        // bytes still wait here for the fills, and the end counts once they are taken (`drain`).
        this.endedWithBytes = true;
        this.socket.destroy();
        return;
      }
      exchange?.ended();
      this.socket.destroy();
    });
    this.socket.on("close", () => {
      if (!this.endedWithBytes) this.close(codedError("connection closed", "ECONNRESET"));
    });
    this.socket.on("timeout", () => {
      const seconds = Math.round((this.socket.timeout ?? 0) / 1000);
      this.exchange?.fail(codedError(`stalled (no data for ${seconds} s)`, "ESTALL"));
      this.close();
    });
  }

  /** Bytes waiting in scratch for the exchange. */
  get pending(): number {
    return this.end - this.start;
  }

  /**
   * Where the next socket read lands. Node asks for it once at creation and then right after
   * each read's callback, before the next read: what is returned here is where that read's
   * bytes will be, whatever happens in between.
   */
  private readBuffer(): Uint8Array {
    const direct = this.exchange?.readTarget();
    this.direct = direct !== undefined && direct.length > 0;
    if (direct && this.direct) return direct;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    } else if (this.scratch.length - this.end < READ_BYTES) {
      // At most PAUSE_BYTES + READ_BYTES wait here: moved to the front, READ_BYTES are free.
      this.scratch.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    return this.scratch.subarray(this.end, this.end + READ_BYTES);
  }

  private onRead(count: number): boolean {
    if (count <= 0) return true;
    const exchange = this.exchange;
    if (this.direct) {
      // Straight into the fill target (read with the buffer `readBuffer` just gave).
      this.direct = false;
      exchange?.landed(count);
      return this.keepReading();
    }
    this.end += count;
    if (!exchange) {
      // Bytes nobody asked for (a server talking out of turn): this connection is done.
      this.close(codedError("unexpected bytes on an idle connection", "EPROTO"));
      return false;
    }
    try {
      if (exchange.phase === "head") this.parseHead(exchange);
      this.drain();
    } catch (error) {
      exchange.fail(error);
      this.close();
      return false;
    }
    return this.keepReading();
  }

  /** Keep reading while the exchange wants bytes or scratch has room; else pause. */
  private keepReading(): boolean {
    const exchange = this.exchange;
    if (!exchange || exchange.phase === "done" || exchange.phase === "failed") return true;
    if (exchange.phase === "head") return true;
    if (exchange.readTarget()) return true;
    if (this.end - this.start < PAUSE_BYTES) {
      // Scratch can take more while the caller writes its last batch.
      return true;
    }
    // Nobody asked for these bytes yet: the server is not stalling, ferry is not reading, so
    // the stall timer waits until the next fill re-arms it.
    this.paused = true;
    this.socket.setTimeout(0);
    return false;
  }

  /**
   * A chunk of a streamed connection, handed over as `onread` would: into the buffer
   * `readBuffer` names, then `onRead`; what is left when reading pauses waits in `held`.
   */
  private feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.closed) {
      const target = this.readBuffer();
      const count = Math.min(target.length, chunk.length - at);
      target.set(chunk.subarray(at, at + count));
      at += count;
      if (!this.onRead(count)) {
        if (this.closed) return;
        if (at < chunk.length) this.held = chunk.subarray(at);
        this.socket.pause();
        return;
      }
    }
  }

  /** The exchange wants bytes: resume reading if paused. */
  want(): void {
    if (this.paused && !this.closed) {
      this.paused = false;
      const held = this.held;
      this.held = undefined;
      if (held) {
        this.feed(held);
        if (this.paused || this.closed) return;
      }
      this.socket.resume();
    }
  }

  /** Hand scratch bytes to the exchange. */
  drain(): void {
    const exchange = this.exchange;
    if (exchange?.phase !== "body" || this.start === this.end) return;
    const used = exchange.takeScratch(this.scratch.subarray(this.start, this.end));
    // Only `start` moves here: the next read may already be aimed at scratch[end..], and only
    // `readBuffer` (which aims it) may move `end` back.
    this.start += used;
    if (this.endedWithBytes && this.start === this.end && exchange.phase === "body") {
      exchange.ended();
    }
  }

  private parseHead(exchange: Exchange): void {
    const chunk = this.scratch.subarray(this.start, this.end).toString("latin1");
    const text = this.head + chunk;
    const at = text.indexOf("\r\n\r\n");
    if (at < 0) {
      if (text.length > HEAD_LIMIT) throw codedError("response head too large", "EPROTO");
      this.head = text;
      this.start = this.end;
      return;
    }
    const headBytes = at + 4 - this.head.length;
    this.start += headBytes;
    this.head = "";
    const lines = text.slice(0, at).split("\r\n");
    const status = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? "");
    if (!status) throw codedError(`not an HTTP/1.x response: ${lines[0]?.slice(0, 40)}`, "EPROTO");
    const headers: http.IncomingHttpHeaders = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const known = headers[name];
      if (name === "set-cookie") headers[name] = [...((known as string[]) ?? []), value];
      else headers[name] = known === undefined ? value : `${known}, ${value}`;
    }
    const head: RawResponseHead = {
      status: Number(status[2]),
      statusMessage: status[3] ?? "",
      headers,
    };
    if (head.status === 100) {
      if (this.start < this.end) this.parseHead(exchange);
      return;
    }
    exchange.startBody(head, this.method, `1.${status[1]}`);
    exchange.onHead?.(head);
    if (exchange.phase === "body" && this.start < this.end) this.drain();
  }

  setStall(ms: number): void {
    this.socket.setTimeout(ms);
  }

  /** Send a request; resolves with the response head. */
  request(url: URL, request: RawRequest): Exchange {
    this.clearIdle();
    this.method = request.method;
    const exchange = new Exchange(this, request.stallTimeoutMs, url);
    this.exchange = exchange;
    this.socket.ref();
    this.tunnel?.ref();
    this.setStall(request.stallTimeoutMs);
    // Through a proxy, plain http asks the proxy for the absolute URL.
    const target =
      this.route && url.protocol === "http:"
        ? `${url.protocol}//${url.host}${url.pathname}${url.search}`
        : `${url.pathname}${url.search}`;
    const lines = [`${request.method} ${target} HTTP/1.1`, `Host: ${url.host}`];
    if (this.route?.authorization && url.protocol === "http:") {
      lines.push(`Proxy-Authorization: ${this.route.authorization}`);
    }
    for (const [name, value] of Object.entries(request.headers)) {
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
        throw codedError(`header ${name} holds a line break`, "ERR_INVALID_CHAR");
      }
      lines.push(`${name}: ${value}`);
    }
    this.socket.write(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
    this.want();
    return exchange;
  }

  /** The exchange is over: back to the pool (keep-alive, nothing left over) or closed. */
  exchangeDone(exchange: Exchange): void {
    if (this.exchange !== exchange) return;
    if (
      exchange.phase === "done" &&
      exchange.keepAlive &&
      !this.closed &&
      this.start === this.end
    ) {
      this.exchange = undefined;
      this.socket.setTimeout(0);
      this.socket.unref();
      this.tunnel?.unref();
      this.want();
      this.idleTimer = setTimeout(() => this.close(), IDLE_MS);
      this.idleTimer.unref();
      this.pool.release(this);
      return;
    }
    this.close();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  close(error?: unknown): void {
    this.clearIdle();
    const exchange = this.exchange;
    this.exchange = undefined;
    if (error !== undefined) exchange?.fail(error);
    else exchange?.fail(codedError("connection closed", "ECONNRESET"));
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    this.pool.forget(this);
  }
}

/** Keep-alive connections per origin, for one TLS configuration. */
export class RawPool {
  private readonly idle = new Map<string, RawConnection[]>();
  private readonly all = new Set<RawConnection>();
  private destroyed = false;

  constructor(private readonly options: RawConnectOptions) {}

  release(connection: RawConnection): void {
    if (this.destroyed) {
      connection.close();
      return;
    }
    const list = this.idle.get(connection.key) ?? [];
    list.push(connection);
    this.idle.set(connection.key, list);
  }

  forget(connection: RawConnection): void {
    this.all.delete(connection);
    const list = this.idle.get(connection.key);
    if (!list) return;
    const at = list.indexOf(connection);
    if (at >= 0) list.splice(at, 1);
  }

  /** The proxy a URL goes through (undefined: directly). */
  routeFor(url: URL): ProxyRoute | undefined {
    return routeFor(this.options.proxy, url);
  }

  /** An idle keep-alive connection to the key's origin, if one is left. */
  private takeIdle(key: string): RawConnection | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const connection = list.pop() as RawConnection;
      if (!connection.closed) return connection;
    }
    return undefined;
  }

  private adopt(connection: RawConnection): RawConnection {
    this.all.add(connection);
    return connection;
  }

  /**
   * Send a bodyless request and resolve with the response head and its body. A reused
   * connection the server closed meanwhile is retried once on a fresh one.
   */
  send(url: URL, request: RawRequest): Promise<RawResponseHead & { body: RawBody }> {
    if (this.destroyed) return Promise.reject(codedError("connection pool closed", "ECANCELED"));
    const route = this.routeFor(url);
    const key = route
      ? `${url.protocol}//${url.host} via ${route.label}`
      : `${url.protocol}//${url.host}`;
    return new Promise((resolve, reject) => {
      let settled = false;
      const use = (connection: RawConnection, reused: boolean): void => {
        let exchange: Exchange;
        try {
          exchange = connection.request(url, request);
        } catch (error) {
          connection.close();
          settled = true;
          reject(error);
          return;
        }
        const onAbort = (): void => exchange.fail(codedError("cancelled", "ABORT_ERR"));
        request.signal?.addEventListener("abort", onAbort, { once: true });
        exchange.onHead = (head) => {
          if (settled) return;
          settled = true;
          resolve({ ...head, body: new RawBody(exchange, head.statusMessage) });
        };
        exchange.onDone = () => request.signal?.removeEventListener("abort", onAbort);
        exchange.onFail = (error) => {
          request.signal?.removeEventListener("abort", onAbort);
          if (settled) return;
          if (reused && !request.signal?.aborted) {
            attempt(true);
            return;
          }
          settled = true;
          reject(error);
        };
        if (request.signal?.aborted) onAbort();
      };
      const attempt = (fresh: boolean): void => {
        const idle = this.takeIdle(key);
        if (idle) {
          use(idle, !fresh && idle.socket.readyState === "open");
          return;
        }
        if (!route || url.protocol !== "https:") {
          use(this.adopt(new RawConnection(key, url, this.options, this, route)), false);
          return;
        }
        // https through a proxy: the tunnel first, then TLS inside it.
        const host = url.hostname.replace(/^\[|\]$/g, "");
        const port = Number(url.port || 443);
        openTunnel(route, host, port, {
          timeoutMs: this.options.tunnelTimeoutMs ?? request.stallTimeoutMs,
          signal: request.signal,
        }).then(
          (tunnel) => {
            if (this.destroyed) {
              tunnel.destroy();
              settled = true;
              reject(codedError("connection pool closed", "ECANCELED"));
              return;
            }
            use(this.adopt(new RawConnection(key, url, this.options, this, route, tunnel)), false);
          },
          (error: unknown) => {
            settled = true;
            reject(error);
          },
        );
      };
      attempt(false);
    });
  }

  destroy(): void {
    this.destroyed = true;
    for (const connection of [...this.all]) connection.close();
    this.idle.clear();
  }
}

import type http from "node:http";
import net from "node:net";
import tls from "node:tls";
import type { ProxyRoute } from "./proxy-tunnel.js";
import {
  codedError,
  Exchange,
  type ExchangeConnection,
  type RawResponseHead,
} from "./raw-exchange.js";
import type { RawConnectOptions, RawPool, RawRequest } from "./raw-http.js";

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

/** One keep-alive connection, read with `onread` into the exchange's buffers or a scratch. */
export class RawConnection implements ExchangeConnection {
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

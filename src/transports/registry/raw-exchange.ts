import type http from "node:http";

/**
 * One request/response on a raw connection (raw-http.ts): the response's framing (length,
 * chunked, close-delimited), chunked decoding, and the delivery of body bytes into the
 * buffers the caller's fills name — straight from the socket when a read can land there,
 * otherwise copied out of the connection's scratch.
 */

export interface RawResponseHead {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
}

/** The errors a raw exchange fails with carry Node's codes, for `networkError`. */
export function codedError(message: string, code: string): NodeJS.ErrnoException {
  const error = new Error(message) as NodeJS.ErrnoException;
  error.code = code;
  return error;
}

/** Iterating a body yields copies of this size at most. */
const COPY_BYTES = 64 * 1024;

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

/** What an exchange needs of its connection (RawConnection). */
export interface ExchangeConnection {
  /** Bytes waiting in the connection's scratch. */
  readonly pending: number;
  setStall(ms: number): void;
  /** Hand bytes waiting in scratch to the exchange. */
  drain(): void;
  /** Read from the socket again (a fill is waiting). */
  want(): void;
  exchangeDone(exchange: Exchange): void;
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
      const buffer = Buffer.allocUnsafe(COPY_BYTES);
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
export class Exchange {
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
    readonly connection: ExchangeConnection,
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

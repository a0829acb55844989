import { setTimeout as sleep } from "node:timers/promises";
import { pushScope } from "./auth.js";
import { ByteReader, chunkBody } from "./byte-reader.js";
import type { RegistryClient } from "./client.js";
import { readErrorBody } from "./error-body.js";
import { isTransient, RegistryError } from "./errors.js";
import { discardBody, type HttpResponse, headerValue } from "./http.js";
import { resolveLocation } from "./location.js";
import { blobExists } from "./push-checks.js";
import { backoffDelay, exhausted } from "./retry.js";
import type { UploadOutcome, UploadRequest } from "./upload.js";
import {
  cancelUpload,
  digestRefused,
  parseUploadRange,
  startUpload,
  withDigest,
} from "./upload-session.js";

const MiB = 1024 * 1024;
/** Progress of this many bytes resets the retry budget (a slow link that moves is not dead). */
const PROGRESS_RESETS_RETRIES = MiB;
const MAX_ATTEMPTS = 200;

/** Where an upload stands on the registry: its URL and how many bytes it has. */
interface UploadState {
  location: URL;
  offset: number;
}

/**
 * A blob too big for one request, sent in PATCH chunks that resume where the registry says it
 * stands after a cut, or start over when it lost the session; then `PUT ?digest=`.
 */
export class ChunkedUpload {
  private readonly outcome: UploadOutcome = { restarts: 0, resumes: 0, bytesSent: 0, chunks: 0 };
  private reader: ByteReader;
  /** The engine's stream while it is the one being sent. */
  private engineReader: ByteReader | undefined;
  /** The engine's stream read to its end after ferry switched to a fresh one. */
  private engineVerdict: Promise<void> | undefined;
  private readonly scopes: string[];

  constructor(private readonly request: UploadRequest) {
    this.reader = new ByteReader(request.stream);
    this.engineReader = this.reader;
    this.scopes = [pushScope(request.repository)];
  }

  private get client(): RegistryClient {
    return this.request.client;
  }

  async run(): Promise<UploadOutcome> {
    const { descriptor } = this.request;
    const size = descriptor.size;
    let state: UploadState = { location: await this.start(), offset: 0 };
    let retry = 0;
    let attempts = 0;
    let digestRetried = false;
    /** The furthest the registry ever confirmed: only going past it resets the retries. */
    let highWater = 0;
    let completed = false;
    try {
      while (true) {
        attempts++;
        try {
          while (state.offset < size) {
            await this.positionAt(state.offset);
            const length = Math.min(this.request.tuning.chunkSize, size - state.offset);
            state = await this.patch(state, length);
          }
          await this.reader.finish();
          if (this.engineVerdict) await this.engineVerdict;
          await this.complete(state.location);
          completed = true;
          return this.outcome;
        } catch (error) {
          await this.reader.settled();
          if (this.request.signal?.aborted) throw error;
          if (
            error instanceof RegistryError &&
            error.code === "EINTEGRITY" &&
            !digestRetried &&
            this.outcome.restarts + this.outcome.resumes > 0
          ) {
            // A resumed upload whose result the registry refused: the cut may have left bad
            // bytes there. Once more, from byte 0 in a new session.
            digestRetried = true;
            await this.cancel(state.location);
            state = await this.restart("the registry refused the digest of a resumed upload");
            continue;
          }
          if (!isTransient(error)) throw error;
          if (
            state.offset >= size &&
            (await blobExists(
              this.client,
              this.request.repository,
              descriptor.digest,
              this.request.what,
            ).catch(() => false))
          ) {
            completed = true; // it went through; only the answer was lost
            return this.outcome;
          }
          if (state.offset >= highWater + PROGRESS_RESETS_RETRIES) retry = 0;
          highWater = Math.max(highWater, state.offset);
          const registryError = error as RegistryError;
          if (retry >= this.client.retryPolicy.retries || attempts >= MAX_ATTEMPTS) {
            throw exhausted(registryError, attempts);
          }
          const delay = backoffDelay(retry++, this.client.retryPolicy, registryError.retryAfterMs);
          this.note(
            `${registryError.message}; checking the upload in ${(delay / 1000).toFixed(1)} s`,
          );
          await sleep(delay, undefined, this.request.signal ? { signal: this.request.signal } : {});
          state = await this.resync(state);
        }
      }
    } finally {
      if (!completed) await this.cancel(state.location);
      this.request.track?.(undefined);
      if (this.reader !== this.engineReader) this.reader.destroy();
    }
  }

  private note(text: string): void {
    this.request.onNote?.(text);
  }

  private async start(): Promise<URL> {
    const location = await startUpload(
      this.client,
      this.request.repository,
      this.request.what,
      this.request.signal,
    );
    this.request.track?.(location);
    return location;
  }

  private async cancel(location: URL): Promise<void> {
    await cancelUpload(this.client, this.request.repository, location, this.request.what);
  }

  /**
   * Make the reader stand at `offset`: skip ahead, or read again from a fresh stream. The
   * engine's stream is then still read to its end, for its verdict.
   */
  private async positionAt(offset: number): Promise<void> {
    if (this.reader.position === offset) return;
    if (this.reader.position < offset) {
      await this.reader.skip(offset - this.reader.position, this.request.what);
      return;
    }
    if (this.reader === this.engineReader) {
      const engine = this.engineReader;
      this.engineVerdict = engine.finish();
      this.engineVerdict.catch(() => {});
      this.engineReader = undefined;
    } else {
      this.reader.destroy();
    }
    this.note(`${this.request.what}: reading it again from the source to send from byte ${offset}`);
    this.reader = new ByteReader(await this.request.reopen());
    await this.reader.skip(offset, this.request.what);
  }

  private async patch(state: UploadState, length: number): Promise<UploadState> {
    const { offset } = state;
    const end = offset + length - 1;
    const body = chunkBody(this.reader, length, this.request.what);
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    this.request.signal?.addEventListener("abort", onAbort);
    let response: HttpResponse;
    try {
      response = await this.client.send({
        method: "PATCH",
        path: state.location.href,
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Range": `${offset}-${end}`,
          "Content-Length": String(length),
        },
        body,
        scopes: this.scopes,
        what: this.request.what,
        acceptStatus: [404, 416],
        signal: controller.signal,
      });
    } catch (error) {
      controller.abort();
      body.destroy();
      throw error;
    } finally {
      this.request.signal?.removeEventListener("abort", onAbort);
    }
    this.outcome.bytesSent += this.reader.position - offset;
    if (response.status === 404 || response.status === 416) {
      await discardBody(response);
      controller.abort();
      body.destroy();
      throw new RegistryError(
        "EREGISTRY",
        `${this.request.what}: the registry answered ${response.status} to bytes ${offset}-${end}`,
        { transient: true, status: response.status },
      );
    }
    await discardBody(response);
    this.outcome.chunks++;
    const next = headerValue(response.headers, "location");
    const have = parseUploadRange(headerValue(response.headers, "range"));
    if (have !== undefined && have !== end + 1) {
      throw new RegistryError(
        "EREGISTRY",
        `${this.request.what}: the registry has ${have} bytes after bytes ${offset}-${end}`,
        { transient: true },
      );
    }
    const location = next ? resolveLocation(next, response.url, this.request.what) : state.location;
    this.request.track?.(location);
    return { location, offset: end + 1 };
  }

  /**
   * Ask the registry where the upload stands (`GET` on its URL). A lost session (404, or an
   * answer without a readable Range) starts a new one from byte 0.
   */
  private async resync(state: UploadState): Promise<UploadState> {
    let response: HttpResponse;
    try {
      response = await this.client.send({
        method: "GET",
        path: state.location.href,
        scopes: this.scopes,
        what: `the state of the upload of ${this.request.what}`,
        acceptStatus: [400, 404],
        ...(this.request.signal ? { signal: this.request.signal } : {}),
      });
    } catch (error) {
      if (isTransient(error)) throw error;
      return this.restart("its upload session could not be asked about");
    }
    await discardBody(response);
    const have = parseUploadRange(headerValue(response.headers, "range"));
    if (response.status >= 400 || have === undefined || have > this.request.descriptor.size) {
      return this.restart(`the registry lost the upload session (HTTP ${response.status})`);
    }
    const next = headerValue(response.headers, "location");
    const location = next ? resolveLocation(next, response.url, this.request.what) : state.location;
    // distribution writes `0-0` for both 0 and 1 bytes: 1 byte is read as 0 and a 416 follows.
    const offset = have === 1 ? 0 : have;
    this.outcome.resumes++;
    this.note(`${this.request.what}: resuming the upload at byte ${offset}`);
    this.request.track?.(location);
    return { location, offset };
  }

  private async restart(reason: string): Promise<UploadState> {
    this.outcome.restarts++;
    this.note(`${this.request.what}: ${reason}; starting it over`);
    return { location: await this.start(), offset: 0 };
  }

  /** `PUT <location>?digest=`: the registry checks the digest and makes the blob visible. */
  private async complete(location: URL): Promise<void> {
    const response = await this.client.send({
      method: "PUT",
      path: withDigest(location, this.request.descriptor.digest).href,
      headers: { "Content-Length": "0" },
      scopes: this.scopes,
      what: this.request.what,
      acceptStatus: [400, 404],
      ...(this.request.signal ? { signal: this.request.signal } : {}),
    });
    if (response.status === 400) throw digestRefused(this.request, await readErrorBody(response));
    await discardBody(response);
    if (response.status === 404) {
      throw new RegistryError(
        "EREGISTRY",
        `${this.request.what}: the registry lost the upload before it completed`,
        { transient: true, status: 404 },
      );
    }
  }
}

/**
 * The push half of the registry client: blob existence checks, cross-repository mounts,
 * monolithic and chunked blob uploads that resume or start over after a cut, and manifest
 * pushes. Every request goes through `RegistryClient.send` (authentication, TLS, redirects)
 * and the same retry policy as downloads.
 *
 * Resuming: after a failed PATCH ferry asks the registry where the upload stands (`GET` on
 * the upload URL, which answers `Range: 0-<last byte>`) and goes on from there; a 416 on a
 * PATCH means the same. When the registry has lost the session (404: purged, restarted, or
 * `distribution`, which cancels an upload whose PATCH was cut mid-body) the blob starts over
 * in a new session. Bytes that were already read from the source are read again from a fresh,
 * verified stream (`reopen`); the engine's own stream is still read to its end, so its
 * verdict on the bytes still gates the final `PUT ?digest=`.
 */

import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { sha256Digest } from "../../digest/sha256.js";
import { FerryError, SizeError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { repositoryScope } from "./auth.js";
import { MANIFEST_ACCEPT, type RegistryClient } from "./client.js";
import { type RegistryErrorBody, readErrorBody } from "./error-body.js";
import { isTransient, RegistryError } from "./errors.js";
import { discardBody, type HttpResponse, headerValue } from "./http.js";
import { resolveLocation } from "./location.js";
import { backoffDelay, exhausted, withRetries } from "./retry.js";

const MiB = 1024 * 1024;

/** How blobs are cut into requests. */
export interface UploadTuning {
  /** Blobs above `monolithicMax` go up in PATCH requests of this many bytes. */
  chunkSize: number;
  /** Blobs up to this size are read into memory and sent in one PUT (retried as a whole). */
  monolithicMax: number;
}

/**
 * 64 MiB chunks: `distribution` pays per PATCH (it reopens the upload and its hash state), so
 * fewer requests push faster; memory does not grow with the chunk (bodies are streamed).
 */
export const DEFAULT_UPLOAD_TUNING: UploadTuning = { chunkSize: 64 * MiB, monolithicMax: 8 * MiB };

/** Progress of this many bytes resets the retry budget (a slow link that moves is not dead). */
const PROGRESS_RESETS_RETRIES = MiB;
const MAX_ATTEMPTS = 200;
const READ_SIZE = MiB;

/** `repository:NAME:pull,push`: what every request to a push target asks for. */
export function pushScope(repository: string): string {
  return repositoryScope(repository, "pull,push");
}

function describeErrors(body: RegistryErrorBody | undefined): string {
  const parts = (body?.errors ?? []).map((e) => {
    const detail =
      e.detail === undefined || e.detail === null
        ? ""
        : `: ${typeof e.detail === "string" ? e.detail : JSON.stringify(e.detail)}`;
    return `${e.code ?? "ERROR"}${e.message ? ` (${e.message}${detail})` : detail}`;
  });
  return parts.length ? parts.join("; ") : "no error details";
}

function codesOf(body: RegistryErrorBody | undefined): string[] {
  return (body?.errors ?? []).map((e) => e.code ?? "").filter(Boolean);
}

/** The upload URL a response names (`Location`, relative to the request). */
function locationOf(response: HttpResponse, what: string): URL {
  const location = headerValue(response.headers, "location");
  if (!location) {
    throw new RegistryError("EREGISTRY", `${what}: the registry named no upload location`, {
      transient: true,
    });
  }
  return resolveLocation(location, response.url, what);
}

/** `Range: 0-N` (some registries write `bytes=0-N`): the number of bytes the registry has. */
export function parseUploadRange(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(?:bytes=)?0-(\d+)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) + 1;
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  return url;
}

/** HEAD a blob in a repository: true when the registry has it there. */
export async function blobExists(
  client: RegistryClient,
  repository: string,
  digest: string,
  what: string,
): Promise<boolean> {
  const { response } = await client.fetchSmall(
    {
      method: "HEAD",
      path: `/v2/${repository}/blobs/${digest}`,
      scopes: [pushScope(repository)],
      what,
      acceptStatus: [404],
    },
    64 * 1024,
  );
  return response.status !== 404;
}

/** HEAD a manifest (by tag or digest): its digest, or undefined when absent. */
export async function manifestDigest(
  client: RegistryClient,
  repository: string,
  reference: string,
  what: string,
): Promise<string | undefined> {
  const { response } = await client.fetchSmall(
    {
      method: "HEAD",
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { Accept: MANIFEST_ACCEPT },
      scopes: [pushScope(repository)],
      what,
      acceptStatus: [404],
    },
    64 * 1024,
  );
  if (response.status === 404) return undefined;
  const header = headerValue(response.headers, "docker-content-digest")?.trim();
  if (header) return header;
  if (reference.startsWith("sha256:")) return reference;
  // No Docker-Content-Digest: the digest of the bytes themselves.
  return sha256Digest((await client.getManifest(repository, reference, what)).bytes);
}

/** `DELETE` an upload session (best effort: the registry purges stale ones anyway). */
export async function cancelUpload(
  client: RegistryClient,
  repository: string,
  location: URL,
  what: string,
): Promise<void> {
  try {
    const response = await client.send({
      method: "DELETE",
      path: location.href,
      scopes: [pushScope(repository)],
      what: `cancelling the upload of ${what}`,
      acceptStatus: [400, 404, 405],
    });
    await discardBody(response);
  } catch {
    // the session is left for the registry's upload purging
  }
}

async function startUploadOnce(
  client: RegistryClient,
  repository: string,
  what: string,
  signal?: AbortSignal,
): Promise<URL> {
  const response = await client.send({
    method: "POST",
    path: `/v2/${repository}/blobs/uploads/`,
    headers: { "Content-Length": "0" },
    scopes: [pushScope(repository)],
    what: `starting the upload of ${what}`,
    ...(signal ? { signal } : {}),
  });
  await discardBody(response);
  return locationOf(response, what);
}

/** `POST /v2/<name>/blobs/uploads/`: a new upload session's URL (retried). */
export async function startUpload(
  client: RegistryClient,
  repository: string,
  what: string,
  signal?: AbortSignal,
): Promise<URL> {
  return withRetries(
    client.retryPolicy,
    () => startUploadOnce(client, repository, what, signal),
    signal ? { signal } : {},
  );
}

/**
 * Mount a blob from another repository of the same registry
 * (`POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`). True when mounted (201); a
 * registry that cannot mount (no such blob there, or no pull right on `from`) opens an upload
 * session instead (202), which is cancelled here, and the answer is false.
 */
export async function mountBlob(
  client: RegistryClient,
  repository: string,
  digest: string,
  from: string,
  what: string,
): Promise<boolean> {
  const query = new URLSearchParams({ mount: digest, from });
  return withRetries(client.retryPolicy, async () => {
    let response: HttpResponse;
    try {
      response = await client.send({
        method: "POST",
        path: `/v2/${repository}/blobs/uploads/?${query.toString()}`,
        headers: { "Content-Length": "0" },
        scopes: [pushScope(repository), repositoryScope(from, "pull")],
        what: `mounting ${what} from ${from}`,
      });
    } catch (error) {
      // No right to read `from` (or it is gone): not a reason to fail, just upload.
      if (error instanceof RegistryError && [401, 403, 404].includes(error.status ?? 0)) {
        return false;
      }
      throw error;
    }
    await discardBody(response);
    if (response.status === 201) return true;
    const location = headerValue(response.headers, "location");
    if (location)
      await cancelUpload(client, repository, resolveLocation(location, response.url, what), what);
    return false;
  });
}

/** True when a manifest names layers with `urls` (foreign layers). */
function namesUrls(bytes: Buffer): boolean {
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as { layers?: Array<{ urls?: unknown }> };
    return (parsed.layers ?? []).some((l) => Array.isArray(l.urls) && l.urls.length > 0);
  } catch {
    return false;
  }
}

const FOREIGN_URLS_HINT =
  "the manifest names foreign-layer URLs, which registries refuse unless allowed: push with --strip-foreign-urls, or allow them in the registry (distribution: validation.manifests.urls.allow)";

/**
 * PUT a manifest by tag or digest. Resolves with the digest the registry computed
 * (Docker-Content-Digest), when it sends one.
 */
export async function putManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  descriptor: Pick<Descriptor, "mediaType" | "digest">,
  bytes: Buffer,
  what: string,
): Promise<string | undefined> {
  const foreign = namesUrls(bytes);
  return withRetries(client.retryPolicy, async () => {
    const response = await client.send({
      method: "PUT",
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { "Content-Type": descriptor.mediaType, "Content-Length": String(bytes.length) },
      body: bytes,
      scopes: [pushScope(repository)],
      what,
      acceptStatus: [400, 500],
    });
    if (response.status === 400 || response.status === 500) {
      const body = await readErrorBody(response);
      // distribution answers a refused foreign-layer URL with 500 UNKNOWN: no use retrying.
      const refusedUrls = foreign && codesOf(body).includes("UNKNOWN");
      throw new RegistryError(
        "EREGISTRY",
        `${what}: ${client.registry} refused the manifest (HTTP ${response.status}): ${describeErrors(body)}`,
        {
          status: response.status,
          transient: response.status === 500 && !refusedUrls,
          hint: foreign
            ? FOREIGN_URLS_HINT
            : "the registry may lack a blob or a child manifest it names, or not accept this media type",
          details: { codes: codesOf(body) },
        },
      );
    }
    await discardBody(response);
    return headerValue(response.headers, "docker-content-digest")?.trim();
  });
}

/**
 * Reads a stream in pieces of at most N bytes, counting where it is. Reads run one at a time,
 * in order; `settled()` waits for the one in flight (after a request failed mid-body).
 */
class ByteReader {
  position = 0;
  private leftover: Buffer | undefined;
  private readonly iterator: AsyncIterator<unknown>;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  /** Up to `max` bytes; undefined at the end. The stream's error (its verdict) rejects. */
  read(max: number): Promise<Buffer | undefined> {
    const next = this.busy.then(() => this.readNow(max));
    this.busy = next.catch(() => {});
    return next;
  }

  private async readNow(max: number): Promise<Buffer | undefined> {
    let chunk = this.leftover;
    this.leftover = undefined;
    if (!chunk) {
      const { value, done } = await this.iterator.next();
      if (done) return undefined;
      chunk = Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
    }
    if (chunk.length > max) {
      this.leftover = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.position += chunk.length;
    return chunk;
  }

  async skip(count: number, what: string): Promise<void> {
    let left = count;
    while (left > 0) {
      const chunk = await this.read(Math.min(left, READ_SIZE));
      if (!chunk) throw new SizeError(what, count, count - left);
      left -= chunk.length;
    }
  }

  /** Read to the end: a verifying stream gives its verdict there. */
  async finish(): Promise<void> {
    while (await this.read(4 * READ_SIZE)) {
      // bytes past the point of interest are only hashed by the stream itself
    }
  }

  settled(): Promise<void> {
    return this.busy.then(() => {});
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/** A request body of exactly `length` bytes taken from `reader`. */
function chunkBody(reader: ByteReader, length: number, what: string): Readable {
  let remaining = length;
  return new Readable({
    highWaterMark: READ_SIZE,
    read() {
      if (remaining === 0) {
        this.push(null);
        return;
      }
      reader.read(Math.min(remaining, READ_SIZE)).then(
        (chunk) => {
          if (!chunk) {
            this.destroy(new SizeError(what, length, length - remaining));
            return;
          }
          remaining -= chunk.length;
          this.push(chunk);
          if (remaining === 0) this.push(null);
        },
        (error: unknown) => this.destroy(error as Error),
      );
    },
  });
}

/** One blob to upload. */
export interface UploadRequest {
  client: RegistryClient;
  repository: string;
  descriptor: Descriptor;
  /** The copy engine's verifying stream of the blob. */
  stream: Readable;
  /** A fresh, verified stream of the blob from byte 0 (for uploads that must read again). */
  reopen: () => Promise<Readable>;
  /** `blob sha256:... (layer 1/3 of ...)` for messages. */
  what: string;
  tuning: UploadTuning;
  signal?: AbortSignal;
  onNote?: (text: string) => void;
  /** Told about the live session (undefined when none), so an abort can cancel it. */
  track?: (location: URL | undefined) => void;
}

/** What an upload took. */
export interface UploadOutcome {
  /** Sessions started over from byte 0 after the registry lost one (or refused the digest). */
  restarts: number;
  /** Times the upload went on from where the registry said it stood. */
  resumes: number;
  /** Request body bytes sent (more than the blob's size after a cut). */
  bytesSent: number;
  chunks: number;
}

/** Upload one blob: one PUT when small, else PATCH chunks that resume; then `PUT ?digest=`. */
export async function uploadBlob(request: UploadRequest): Promise<UploadOutcome> {
  if (request.descriptor.size <= request.tuning.monolithicMax) return uploadWhole(request);
  return new ChunkedUpload(request).run();
}

async function readAll(stream: Readable, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== size) throw new FerryError("EINTERNAL", "short blob stream");
  return bytes;
}

function digestRefused(request: UploadRequest, body: RegistryErrorBody | undefined): RegistryError {
  return new RegistryError(
    "EINTEGRITY",
    `${request.what}: ${request.client.registry}/${request.repository} refused the upload: ${describeErrors(body)}`,
    {
      status: 400,
      hint: "ferry verified these bytes against the digest; the registry (or something between) saw other bytes: try again, and check any proxy in between",
      details: { digest: request.descriptor.digest, codes: codesOf(body) },
    },
  );
}

/** Small blobs: the verified bytes in memory, then POST + PUT, retried as a whole. */
async function uploadWhole(request: UploadRequest): Promise<UploadOutcome> {
  const { client, repository, descriptor } = request;
  const bytes = await readAll(request.stream, descriptor.size);
  const outcome: UploadOutcome = { restarts: 0, resumes: 0, bytesSent: 0, chunks: 1 };
  let attempt = 0;
  await withRetries(
    client.retryPolicy,
    async () => {
      if (attempt++ > 0) outcome.restarts++;
      const location = await startUploadOnce(client, repository, request.what, request.signal);
      request.track?.(location);
      try {
        const response = await client.send({
          method: "PUT",
          path: withDigest(location, descriptor.digest).href,
          headers: {
            "Content-Type": "application/octet-stream",
            "Content-Length": String(bytes.length),
          },
          body: bytes,
          scopes: [pushScope(repository)],
          what: request.what,
          acceptStatus: [400],
          ...(request.signal ? { signal: request.signal } : {}),
        });
        outcome.bytesSent += bytes.length;
        if (response.status === 400) throw digestRefused(request, await readErrorBody(response));
        await discardBody(response);
      } catch (error) {
        if (
          isTransient(error) &&
          (await blobExists(client, repository, descriptor.digest, request.what).catch(() => false))
        ) {
          return; // the PUT went through; only its answer was lost
        }
        await cancelUpload(client, repository, location, request.what);
        throw error;
      } finally {
        request.track?.(undefined);
      }
    },
    {
      ...(request.signal ? { signal: request.signal } : {}),
      onRetry: ({ error, delayMs }) =>
        request.onNote?.(`${error.message}; retrying in ${(delayMs / 1000).toFixed(1)} s`),
    },
  );
  return outcome;
}

/** Where an upload stands on the registry: its URL and how many bytes it has. */
interface UploadState {
  location: URL;
  offset: number;
}

class ChunkedUpload {
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

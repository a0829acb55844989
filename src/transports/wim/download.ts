/**
 * Download a .wim over http(s) with Node's fetch into a file, hashing it on the way (one pass):
 * the manifest of an OS image names the WIM's sha256, so it must be known before saving.
 */

import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import { FerryError, fromSystemError, UsageError } from "../../errors.js";
import { redactUrl } from "../../types/url.js";
import {
  DEFAULT_MIN_RATE_BYTES_PER_SECOND,
  describeSlowWindow,
  type MinRate,
  RateFloor,
} from "../registry/min-rate.js";
import { hashWimStream, type WimHashPass } from "./hash-pass.js";

/** The last path segment of a URL, decoded, or `download.wim`. */
export function fileNameOfUrl(url: string): string {
  try {
    const segment = new URL(url).pathname.split("/").filter(Boolean).pop();
    const decoded = segment ? decodeURIComponent(segment) : "";
    const safe = decoded.replace(/[\\/:*?"<>|\0]/g, "_");
    return safe && safe !== "." && safe !== ".." ? safe : "download.wim";
  } catch {
    return "download.wim";
  }
}

/** How long a WIM download may wait (the registry flags: --timeout, --stall-timeout, --min-rate). */
export interface WimDownloadLimits {
  /** The longest to wait for the response head (ms, default 120 s). */
  requestTimeoutMs?: number;
  /** Fail when no byte arrives for this long (ms, default 60 s). */
  stallTimeoutMs?: number;
  /** The speed floor (default 1 KiB/s over the stall timeout's window). */
  minRate?: Partial<MinRate>;
}

export interface DownloadOptions {
  /** For tests: another fetch implementation. */
  fetch?: typeof fetch;
  limits?: WimDownloadLimits;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
const DEFAULT_STALL_TIMEOUT_MS = 60_000;

/** Wait for `pending`, failing with `onStall()` when it takes longer than `ms`. */
async function withStallTimeout<T>(
  pending: Promise<T>,
  ms: number,
  onStall: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onStall()), ms);
  });
  pending.catch(() => {});
  try {
    return await Promise.race([pending, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The body of a response as a Node stream, held to the stall timeout and the speed floor: a
 * server that stops, or drips a byte now and then, fails the download instead of holding it.
 */
function guardedBody(
  body: ReadableStream<Uint8Array>,
  label: string,
  limits: Required<Pick<WimDownloadLimits, "stallTimeoutMs">> & { minRate: MinRate },
  abort: AbortController,
): Readable {
  const reader = body.getReader();
  const floor = new RateFloor(
    limits.minRate,
    (window) =>
      new FerryError("ENETWORK", `downloading ${label} failed: ${describeSlowWindow(window)}`, {
        hint: "the server sends too slowly: run the same command again later, or lower --min-rate if the link is this slow",
      }),
  );
  const stallSeconds = Math.round(limits.stallTimeoutMs / 1000);
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      while (true) {
        const next = await withStallTimeout(
          floor.wait(reader.read(), (r) => (r.done ? 0 : r.value.byteLength)),
          limits.stallTimeoutMs,
          () =>
            new FerryError(
              "ENETWORK",
              `downloading ${label} failed: stalled (no data for ${stallSeconds} s)`,
              { hint: "the server stopped sending: run the same command again later" },
            ),
        );
        if (next.done) return;
        yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      }
    } finally {
      abort.abort();
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 1024 * 1024 });
}

/** Fetch `url` into `target` (created, must not exist), returning the hash pass over its bytes. */
export async function downloadWim(
  url: string,
  target: string,
  options: DownloadOptions = {},
): Promise<WimHashPass> {
  const label = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${label}: not a valid URL`);
  }
  if (parsed.username || parsed.password) {
    throw new UsageError(
      `${label}: a URL with a user name or password is not supported (it would end up in logs and shell histories)`,
      {
        hint: "download the .wim with a tool that keeps the password elsewhere, then save the file",
      },
    );
  }
  const fetchImpl = options.fetch ?? fetch;
  const limits = options.limits ?? {};
  const stallTimeoutMs = limits.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const requestTimeoutMs = limits.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const minRate: MinRate = {
    bytesPerSecond: limits.minRate?.bytesPerSecond ?? DEFAULT_MIN_RATE_BYTES_PER_SECOND,
    windowMs: limits.minRate?.windowMs ?? stallTimeoutMs,
  };
  const abort = new AbortController();
  const headTimer = setTimeout(() => abort.abort(), requestTimeoutMs);
  let response: Response;
  try {
    response = await fetchImpl(url, { redirect: "follow", signal: abort.signal });
  } catch (error) {
    if (abort.signal.aborted) {
      throw new FerryError(
        "ENETWORK",
        `downloading ${label} failed: no answer within ${Math.round(requestTimeoutMs / 1000)} s`,
        {
          hint: "the server answers too slowly: run the same command again later, or raise --timeout",
          cause: error,
        },
      );
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new FerryError("ENETWORK", `downloading ${label} failed: ${detail}`, {
      hint: "check the URL and the network (proxy settings come from the environment)",
      cause: error,
    });
  } finally {
    clearTimeout(headTimer);
  }
  if (!response.ok || !response.body) {
    abort.abort();
    throw new FerryError(
      response.status === 404 ? "ENOTFOUND" : "ENETWORK",
      `downloading ${label} failed: HTTP ${response.status} ${response.statusText}`.trim(),
      { hint: "check the URL; a catalog may have moved the file" },
    );
  }
  // fetch undoes a content encoding, after which Content-Length no longer counts our bytes.
  const encoding = response.headers.get("content-encoding");
  const declared =
    encoding && encoding !== "identity"
      ? Number.NaN
      : Number(response.headers.get("content-length") ?? Number.NaN);
  const handle = await open(target, "wx", 0o644).catch((error: unknown) => {
    abort.abort();
    throw fromSystemError(error, target, "creating");
  });
  let pass: WimHashPass;
  try {
    const body = guardedBody(response.body, label, { stallTimeoutMs, minRate }, abort);
    pass = await hashWimStream(body, label, async (chunk) => {
      await handle.write(chunk);
    }).catch((error: unknown) => {
      abort.abort();
      body.destroy();
      if (error instanceof FerryError) throw error;
      throw new FerryError("ENETWORK", `downloading ${label} failed: ${(error as Error).message}`, {
        cause: error,
      });
    });
  } finally {
    await handle.close();
  }
  if (Number.isSafeInteger(declared) && declared !== pass.size) {
    throw new FerryError(
      "ENETWORK",
      `downloading ${label}: got ${pass.size} bytes, the server announced ${declared}`,
      { hint: "the connection was cut; run the same command again" },
    );
  }
  return pass;
}

/**
 * Download a .wim over http(s) with Node's fetch into a file, hashing it on the way (one pass):
 * the manifest of an OS image names the WIM's sha256, so it must be known before saving.
 */

import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { FerryError, fromSystemError } from "../../errors.js";
import { redactUrl } from "../../types/url.js";
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

export interface DownloadOptions {
  /** For tests: another fetch implementation. */
  fetch?: typeof fetch;
}

/** Fetch `url` into `target` (created, must not exist), returning the hash pass over its bytes. */
export async function downloadWim(
  url: string,
  target: string,
  options: DownloadOptions = {},
): Promise<WimHashPass> {
  const label = redactUrl(url);
  const fetchImpl = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await fetchImpl(url, { redirect: "follow" });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new FerryError("ENETWORK", `downloading ${label} failed: ${detail}`, {
      hint: "check the URL and the network (proxy settings come from the environment)",
      cause: error,
    });
  }
  if (!response.ok || !response.body) {
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
    throw fromSystemError(error, target, "creating");
  });
  let pass: WimHashPass;
  try {
    const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>, {
      highWaterMark: 1024 * 1024,
    });
    pass = await hashWimStream(body, label, async (chunk) => {
      await handle.write(chunk);
    }).catch((error: unknown) => {
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

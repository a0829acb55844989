import { type HttpResponse, readBody } from "./http.js";

/** The error document a registry sends with a failed request (OCI distribution spec). */
export interface RegistryErrorBody {
  errors?: Array<{ code?: string; message?: string; detail?: unknown }>;
}

/** The error document of a response, read once (64 KiB at most); undefined when not JSON. */
export async function readErrorBody(
  response: HttpResponse,
): Promise<RegistryErrorBody | undefined> {
  try {
    return JSON.parse((await readBody(response, 64 * 1024)).toString("utf8")) as RegistryErrorBody;
  } catch {
    return undefined;
  }
}

/** The error codes a document names (`BLOB_UNKNOWN`, `DIGEST_INVALID`, ...). */
export function errorCodes(body: RegistryErrorBody | undefined): string[] {
  const errors = Array.isArray(body?.errors) ? body.errors : [];
  return errors.map((e) => e?.code).filter((c): c is string => typeof c === "string" && c !== "");
}

/** Every error of a document on one line: code (message: detail); ... */
export function describeErrors(body: RegistryErrorBody | undefined): string {
  const parts = (Array.isArray(body?.errors) ? body.errors : []).map((e) => {
    const detail =
      e.detail === undefined || e.detail === null
        ? ""
        : `: ${typeof e.detail === "string" ? e.detail : JSON.stringify(e.detail)}`;
    return `${e.code ?? "ERROR"}${e.message ? ` (${e.message}${detail})` : detail}`;
  });
  return parts.length ? parts.join("; ") : "no error details";
}

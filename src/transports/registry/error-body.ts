import { type HttpResponse, readBody } from "./http.js";

/** Most of a registry's error document ferry reads: the rest of a larger body is not read. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** One entry of a registry's error document (distribution spec: `{"errors": [...]}`). */
export interface RegistryErrorEntry {
  code?: string;
  message?: string;
  detail?: unknown;
}

export interface RegistryErrorBody {
  errors: RegistryErrorEntry[];
}

/**
 * The error document of a failed response, read once (64 KiB at most) and checked for shape:
 * entries that are not objects, and a code or message that is not a string, are left out.
 * Undefined when the body cannot be read or is not a JSON object.
 */
export async function readErrorBody(
  response: HttpResponse,
): Promise<RegistryErrorBody | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse((await readBody(response, MAX_ERROR_BODY_BYTES)).toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const listed = (parsed as { errors?: unknown }).errors;
  const errors: RegistryErrorEntry[] = [];
  for (const item of Array.isArray(listed) ? listed : []) {
    if (typeof item !== "object" || item === null) continue;
    const { code, message, detail } = item as Record<string, unknown>;
    errors.push({
      ...(typeof code === "string" ? { code } : {}),
      ...(typeof message === "string" ? { message } : {}),
      ...(detail !== undefined ? { detail } : {}),
    });
  }
  return { errors };
}

/** The error codes a document names (`BLOB_UNKNOWN`, `DIGEST_INVALID`, ...). */
export function errorCodes(body: RegistryErrorBody | undefined): string[] {
  return (body?.errors ?? [])
    .map((e) => e.code)
    .filter((c): c is string => typeof c === "string" && c !== "");
}

/** Every error of a document on one line: code (message: detail); ... */
export function describeErrors(body: RegistryErrorBody | undefined): string {
  const parts = (body?.errors ?? []).map((e) => {
    const detail =
      e.detail === undefined || e.detail === null
        ? ""
        : `: ${typeof e.detail === "string" ? e.detail : JSON.stringify(e.detail)}`;
    return `${e.code ?? "ERROR"}${e.message ? ` (${e.message}${detail})` : detail}`;
  });
  return parts.length ? parts.join("; ") : "no error details";
}

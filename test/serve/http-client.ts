/**
 * A plain HTTP client for the serve tests: the path is sent exactly as written (no
 * normalization of `..` or percent escapes, which fetch() would do), one connection per request.
 */

import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** For https: the certificate to trust. */
  ca?: Buffer;
}

export function request(base: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const url = new URL(base);
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? "GET",
        headers: options.headers ?? {},
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("aborted", () => reject(new Error("the answer was cut short")));
        response.on("end", () => {
          if (!response.complete) {
            reject(new Error("the answer was cut short"));
            return;
          }
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** The body parsed as JSON. */
export function bodyJson<T>(answer: Answer): T {
  return JSON.parse(answer.body.toString("utf8")) as T;
}

/** The first error code of a distribution error body (undefined when there is none). */
export function errorCode(answer: Answer): string | undefined {
  try {
    return bodyJson<{ errors?: Array<{ code?: string }> }>(answer).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/**
 * One request and its answer, with what the access log reports about it. Every answer carries
 * the distribution API's version header; JSON answers and error answers are written here.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { isFerryError } from "../errors.js";
import type { DistributionError } from "./distribution-error.js";

/** Headers on every answer. */
const COMMON_HEADERS = {
  "Docker-Distribution-API-Version": "registry/2.0",
  "X-Content-Type-Options": "nosniff",
} as const;

export class Exchange {
  /** Body bytes written so far. */
  sent = 0;
  /** The error code answered, if any. */
  errorCode: string | undefined;
  /** What went wrong on the server's side (a damaged or unreadable store file), for the log. */
  problem: string | undefined;
  readonly head: boolean;

  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
  ) {
    this.head = request.method === "HEAD";
    for (const [name, value] of Object.entries(COMMON_HEADERS)) response.setHeader(name, value);
  }

  /**
   * Note what went wrong on the server's side (the first problem is kept): before the answer's
   * connection is cut, so the log line, written when it closes, has it.
   */
  noteProblem(error: unknown): void {
    if (this.problem !== undefined) return;
    if (isFerryError(error)) this.problem = `[${error.code}] ${error.message}`;
    else this.problem = error instanceof Error ? error.message : String(error);
  }

  /** Answer with `body` (nothing for HEAD, Content-Length all the same). */
  send(status: number, headers: Record<string, string | number>, body: Buffer): void {
    const response = this.response;
    response.statusCode = status;
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    response.setHeader("Content-Length", body.length);
    if (this.head) {
      response.end();
      return;
    }
    this.sent += body.length;
    response.end(body);
  }

  sendJson(status: number, value: unknown, headers: Record<string, string | number> = {}): void {
    this.send(
      status,
      { "Content-Type": "application/json", ...headers },
      Buffer.from(`${JSON.stringify(value)}\n`),
    );
  }

  sendError(error: DistributionError): void {
    this.errorCode = error.code;
    this.send(error.status, { "Content-Type": "application/json", ...error.headers }, error.body());
  }
}

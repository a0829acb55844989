/**
 * A small client of the Docker Engine API over node:http: a unix socket or Windows named pipe
 * (`socketPath`), or TCP with TLS from `DOCKER_CERT_PATH`. Errors are typed: an engine that
 * cannot be reached is ENETWORK naming the address and what to do, a socket we may not open is
 * EDENIED, an answer with an error status is ENOTFOUND (404) or EENGINE quoting the engine.
 */

import { readFile } from "node:fs/promises";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import path from "node:path";
import type { Readable } from "node:stream";
import { FerryError, NotFoundError } from "../../errors.js";
import { escapeControls } from "../../types/terminal-text.js";
import type { EngineAddress } from "./engine-address.js";

/** Engine answers read whole (JSON documents) are at most this long. */
const MAX_JSON_ANSWER = 16 * 1024 * 1024;

/** What to do when the engine cannot be reached, per kind of address. */
function reachHint(address: EngineAddress): string {
  switch (address.kind) {
    case "unix":
      return "start the Docker engine (`systemctl start docker`, or dockerd), or point --docker-host / DOCKER_HOST at its socket";
    case "npipe":
      return "start the Docker engine (`Start-Service docker`), or point --docker-host / DOCKER_HOST at its pipe";
    case "tcp":
      return "check that the engine listens there and the network reaches it, or point --docker-host / DOCKER_HOST elsewhere";
  }
}

/** A connection failure as a typed error naming the engine's address. */
export function unreachable(address: EngineAddress, error: unknown): FerryError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EACCES" || code === "EPERM") {
    return new FerryError(
      "EDENIED",
      `the Docker engine at ${address.url}: permission denied on ${address.kind === "tcp" ? "the connection" : address.path}`,
      {
        hint: "run as root or as a member of the docker group (docker-users on Windows)",
        cause: error,
      },
    );
  }
  const why =
    code === "ENOENT"
      ? `nothing listens there (no ${address.kind === "npipe" ? "pipe" : "socket"} ${address.kind === "tcp" ? "" : address.path})`
      : code === "ECONNREFUSED"
        ? "connection refused (is the engine running?)"
        : ((error as Error)?.message ?? String(error));
  return new FerryError("ENETWORK", `cannot reach the Docker engine at ${address.url}: ${why}`, {
    hint: reachHint(address),
    details: { address: address.url, ...(code ? { code } : {}) },
    cause: error,
  });
}

/** The `message` of an engine's error answer (`{"message": "..."}`), escaped for printing. */
function engineMessage(body: Buffer): string {
  try {
    const doc = JSON.parse(body.toString("utf8")) as { message?: unknown };
    if (typeof doc.message === "string") return escapeControls(doc.message);
  } catch {}
  return escapeControls(body.toString("utf8").slice(0, 500).trim());
}

async function readBody(response: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      response.destroy();
      throw new FerryError("EENGINE", `${what}: the engine's answer is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export interface EngineRequest {
  method: "GET" | "POST" | "HEAD";
  /** The API path with its query (`/images/x/json`), unversioned: the engine's own API. */
  path: string;
  headers?: Record<string, string>;
  /** What the request is for, in messages (`loading images into it`). */
  what: string;
}

/** A request whose body is written as a stream, and the engine's answer to it. */
export interface StreamingRequest {
  body: http.ClientRequest;
  response: Promise<IncomingMessage>;
}

export class EngineClient {
  private readonly agent: http.Agent;

  private constructor(
    readonly address: EngineAddress,
    tls: { ca: Buffer; cert: Buffer; key: Buffer } | undefined,
  ) {
    this.agent =
      address.kind === "tcp" && tls
        ? new https.Agent({ keepAlive: true, ...tls })
        : new http.Agent({ keepAlive: true });
  }

  /** A client for the engine at `address` (TLS files read now, named when missing). */
  static async connect(address: EngineAddress): Promise<EngineClient> {
    if (address.kind !== "tcp" || !address.tls) return new EngineClient(address, undefined);
    const certPath = address.tls.certPath;
    const read = (name: string) =>
      readFile(path.join(certPath, name)).catch((error: unknown) => {
        throw new FerryError(
          "ENOTFOUND",
          `the Docker engine at ${address.url} wants TLS (DOCKER_TLS_VERIFY), but ${path.join(certPath, name)} cannot be read: ${(error as Error).message}`,
          { hint: "set DOCKER_CERT_PATH to the folder holding ca.pem, cert.pem and key.pem" },
        );
      });
    const [ca, cert, key] = await Promise.all([read("ca.pem"), read("cert.pem"), read("key.pem")]);
    return new EngineClient(address, { ca, cert, key });
  }

  private options(request: EngineRequest): http.RequestOptions {
    const base = {
      method: request.method,
      path: request.path,
      agent: this.agent,
      headers: { ...request.headers },
    };
    if (this.address.kind === "tcp") {
      return { ...base, host: this.address.host, port: this.address.port };
    }
    // A unix socket or a named pipe: the host header is a placeholder, as docker's own client.
    return { ...base, socketPath: this.address.path, host: "localhost" };
  }

  private send(request: EngineRequest): StreamingRequest {
    const transport = this.address.kind === "tcp" && this.address.tls ? https : http;
    const body = transport.request(this.options(request));
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      body.once("response", resolve);
      body.once("error", (error) => reject(unreachable(this.address, error)));
    });
    response.catch(() => {});
    return { body, response };
  }

  /** The answer's body when its status is 2xx; else a typed error quoting the engine. */
  private async checked(response: IncomingMessage, request: EngineRequest): Promise<Buffer> {
    const body = await readBody(response, MAX_JSON_ANSWER, request.what);
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return body;
    const message = `the Docker engine at ${this.address.url}, ${request.what}: ${engineMessage(body)} (HTTP ${status})`;
    if (status === 404) throw new NotFoundError(message, { details: { status } });
    throw new FerryError("EENGINE", message, { details: { status } });
  }

  /** A request without a body; its JSON answer, or undefined for a 404 when `missingOk`. */
  async json<T>(request: EngineRequest & { missingOk: true }): Promise<T | undefined>;
  async json<T>(request: EngineRequest): Promise<T>;
  async json<T>(request: EngineRequest & { missingOk?: boolean }): Promise<T | undefined> {
    const sent = this.send(request);
    sent.body.end();
    const response = await sent.response;
    if (request.missingOk && response.statusCode === 404) {
      response.resume();
      return undefined;
    }
    const body = await this.checked(response, request);
    try {
      return JSON.parse(body.toString("utf8")) as T;
    } catch {
      throw new FerryError(
        "EENGINE",
        `the Docker engine at ${this.address.url}, ${request.what}: the answer is not JSON`,
      );
    }
  }

  /** A request without a body whose 2xx answer is read as a stream (an image tar). */
  async download(request: EngineRequest): Promise<IncomingMessage> {
    const sent = this.send(request);
    sent.body.end();
    const response = await sent.response;
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    await this.checked(response, request);
    throw new FerryError("EINTERNAL", "unreachable");
  }

  /** A request whose body the caller streams (`body`); its answer when it comes. */
  upload(request: EngineRequest): StreamingRequest {
    return this.send(request);
  }

  /** The answer of an upload: its body when 2xx, else the typed error. */
  answer(response: IncomingMessage, request: EngineRequest): Promise<Buffer> {
    return this.checked(response, request);
  }

  close(): void {
    this.agent.destroy();
  }
}

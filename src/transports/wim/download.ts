/**
 * Download a .wim over http(s) into a file, hashing it on the way (one pass): the manifest of
 * an OS image names the WIM's sha256, so it must be known before saving. The request goes
 * through the registry code's HTTP layer (`sendHttp`): the same proxies (HTTPS_PROXY,
 * HTTP_PROXY, NO_PROXY, --proxy) and the same CA trust (--ca-cert, NODE_EXTRA_CA_CERTS) as
 * registries; redirects are followed (at most 10).
 */

import { open } from "node:fs/promises";
import type http from "node:http";
import { Readable } from "node:stream";
import { FerryError, fromSystemError, UsageError } from "../../errors.js";
import type { ProxyConfig } from "../../types/proxy.js";
import { redactUrl } from "../../types/url.js";
import { windowsDeviceName } from "../../types/windows-names.js";
import { RegistryError } from "../registry/errors.js";
import {
  createAgent,
  discardBody,
  type HttpResponse,
  headerValue,
  type ResponseBody,
  sendHttp,
} from "../registry/http.js";
import { resolveLocation } from "../registry/location.js";
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
    // A name Windows keeps for a device (CON.wim) would write the download to the device there.
    const usable = safe && safe !== "." && safe !== ".." && !windowsDeviceName(safe);
    return usable ? safe : "download.wim";
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

/** How a WIM download reaches its server (the registry flags and the environment). */
export interface WimNetwork {
  /**
   * Extra CA certificates (PEM), trusted in addition to Node's default ones: --ca-cert, and
   * NODE_EXTRA_CA_CERTS (see `readNodeExtraCaCertificates`).
   */
  caCertificates?: string[];
  /** Proxies (see `proxyConfigFrom`); undefined: directly. */
  proxy?: ProxyConfig;
  userAgent?: string;
}

export interface DownloadOptions {
  limits?: WimDownloadLimits;
  network?: WimNetwork;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

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
  body: ResponseBody,
  label: string,
  limits: Required<Pick<WimDownloadLimits, "stallTimeoutMs">> & { minRate: MinRate },
): Readable {
  const reads = body[Symbol.asyncIterator]();
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
          floor.wait(reads.next(), (r) => (r.done ? 0 : r.value.length)),
          limits.stallTimeoutMs,
          () =>
            new FerryError(
              "ENETWORK",
              `downloading ${label} failed: stalled (no data for ${stallSeconds} s)`,
              { hint: "the server stopped sending: run the same command again later" },
            ),
        );
        if (next.done) return;
        yield next.value;
      }
    } finally {
      body.destroy();
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 1024 * 1024 });
}

/**
 * A network error of the download as the user sees it: `downloading URL failed: ...`, the
 * code kept (ETRUST for an untrusted certificate), the URL not repeated.
 */
function downloadError(error: unknown, label: string, url: URL): FerryError {
  if (error instanceof FerryError && !(error instanceof RegistryError)) return error;
  if (!(error instanceof RegistryError)) {
    return new FerryError(
      "ENETWORK",
      `downloading ${label} failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: "check the URL and the network (proxies: HTTPS_PROXY, HTTP_PROXY, --proxy)",
        cause: error,
      },
    );
  }
  let detail = error.message;
  for (const prefix of [`${redactUrl(url)}: `, `${url.host}: `]) {
    if (detail.startsWith(prefix)) detail = detail.slice(prefix.length);
  }
  const via = `${redactUrl(url)} (via the proxy `;
  if (detail.startsWith(via))
    detail = `via the proxy ${detail.slice(via.length).replace("): ", ": ")}`;
  const hint =
    error.code === "ETRUST"
      ? "give the server's CA (or the CA of a proxy that re-signs TLS) with --ca-cert FILE, or in NODE_EXTRA_CA_CERTS"
      : (error.hint ?? "check the URL and the network (proxies: HTTPS_PROXY, HTTP_PROXY, --proxy)");
  return new FerryError(error.code, `downloading ${label} failed: ${detail}`, {
    hint,
    details: error.details,
    cause: error,
  });
}

/** GET `start`, following redirects; resolves with the final response (body unread). */
async function getFollowingRedirects(
  start: URL,
  label: string,
  agentFor: (url: URL) => http.Agent,
  init: { stallTimeoutMs: number; signal: AbortSignal; userAgent: string },
): Promise<HttpResponse> {
  let url = start;
  for (let redirects = 0; ; redirects++) {
    const response = await sendHttp(url, {
      headers: { "User-Agent": init.userAgent, "Accept-Encoding": "identity" },
      agent: agentFor(url),
      stallTimeoutMs: init.stallTimeoutMs,
      signal: init.signal,
      rawBody: true,
    }).catch((error: unknown) => {
      throw downloadError(error, label, url);
    });
    const location = headerValue(response.headers, "location");
    if (!REDIRECTS.has(response.status) || !location) return response;
    await discardBody(response);
    if (redirects >= MAX_REDIRECTS) {
      throw new FerryError(
        "ENETWORK",
        `downloading ${label} failed: more than ${MAX_REDIRECTS} redirects`,
        { hint: "the server sends the download round in circles: tell its owner" },
      );
    }
    url = resolveLocation(location, url, `downloading ${label}`);
    // Credentials are never sent, not even where a redirect names them.
    url.username = "";
    url.password = "";
  }
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
  const limits = options.limits ?? {};
  const network = options.network ?? {};
  const stallTimeoutMs = limits.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const requestTimeoutMs = limits.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const minRate: MinRate = {
    bytesPerSecond: limits.minRate?.bytesPerSecond ?? DEFAULT_MIN_RATE_BYTES_PER_SECOND,
    windowMs: limits.minRate?.windowMs ?? stallTimeoutMs,
  };
  const agents = new Map<string, http.Agent>();
  const agentFor = (url: URL): http.Agent => {
    let agent = agents.get(url.protocol);
    if (!agent) {
      const ca = network.caCertificates ?? [];
      agent = createAgent(
        url.protocol,
        { verify: true, ...(ca.length ? { ca } : {}) },
        { proxy: network.proxy, tunnelTimeoutMs: stallTimeoutMs },
      );
      agents.set(url.protocol, agent);
    }
    return agent;
  };
  try {
    return await downloadWith(parsed, label, target, agentFor, {
      stallTimeoutMs,
      requestTimeoutMs,
      minRate,
      userAgent: network.userAgent ?? "ferry",
    });
  } finally {
    for (const agent of agents.values()) agent.destroy();
  }
}

async function downloadWith(
  url: URL,
  label: string,
  target: string,
  agentFor: (url: URL) => http.Agent,
  settings: {
    stallTimeoutMs: number;
    requestTimeoutMs: number;
    minRate: MinRate;
    userAgent: string;
  },
): Promise<WimHashPass> {
  const { stallTimeoutMs, requestTimeoutMs, minRate } = settings;
  const abort = new AbortController();
  const headTimer = setTimeout(() => abort.abort(), requestTimeoutMs);
  let response: HttpResponse;
  try {
    response = await getFollowingRedirects(url, label, agentFor, {
      stallTimeoutMs,
      signal: abort.signal,
      userAgent: settings.userAgent,
    });
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
    throw error;
  } finally {
    clearTimeout(headTimer);
  }
  if (response.status < 200 || response.status > 299) {
    await discardBody(response);
    const reason = (response.body.statusMessage ?? "").replace(/[^\x20-\x7e]/g, "?").slice(0, 80);
    throw new FerryError(
      response.status === 404 ? "ENOTFOUND" : "ENETWORK",
      `downloading ${label} failed: HTTP ${response.status} ${reason}`.trim(),
      { hint: "check the URL; a catalog may have moved the file" },
    );
  }
  const encoding = headerValue(response.headers, "content-encoding");
  if (encoding && encoding.toLowerCase() !== "identity") {
    response.body.destroy();
    throw new FerryError(
      "ENETWORK",
      `downloading ${label} failed: the server sent the file encoded (${encoding.replace(/[^\x20-\x7e]/g, "?").slice(0, 40)}) although ferry asked for it as it is`,
      { hint: "download the .wim with another tool, then save the file" },
    );
  }
  const declared = Number(headerValue(response.headers, "content-length") ?? Number.NaN);
  const handle = await open(target, "wx", 0o644).catch((error: unknown) => {
    response.body.destroy();
    throw fromSystemError(error, target, "creating");
  });
  let pass: WimHashPass;
  try {
    const body = guardedBody(response.body, label, { stallTimeoutMs, minRate });
    pass = await hashWimStream(body, label, async (chunk) => {
      await handle.write(chunk);
    }).catch((error: unknown) => {
      body.destroy();
      throw downloadError(error, label, response.url);
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

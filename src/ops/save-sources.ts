/**
 * `ferry save SOURCE... -o BUNDLE`: the sources the transport table parsed, opened (with a
 * registry session and download settings when some need them), saved into one bundle, closed.
 */

import path from "node:path";
import { defaultCacheDir } from "../cache/blob-cache.js";
import type { TransportSettings } from "../transports/entry.js";
import type { RegistrySession, TransferStats } from "../transports/registry/session.js";
import { openSource, type SourceSpec, sourceRole } from "../transports/table.js";
import type { Descriptor } from "../types/descriptor.js";
import type { PlatformSelector } from "../types/platform.js";
import type { Source } from "../types/transport.js";
import {
  describeDefaultPlatform,
  downloadLimitsFromFlags,
  downloadNetworkFromFlags,
  hostPlatform,
  openRegistrySession,
  type RegistryFlags,
} from "./registry-options.js";
import { type SaveInput, type SaveOptions, type SaveReport, saveBundle } from "./save.js";

/** One source to save, with its own platforms when an image list gives them. */
export interface SaveRequest {
  spec: SourceSpec;
  platforms?: PlatformSelector;
}

export interface SaveFromSourcesOptions extends Omit<SaveOptions, "downloads"> {
  /** The registry flags: credentials, TLS, proxies, timeouts, the download cache. */
  registry: RegistryFlags;
  /** Values of the sources' own options (`--docker-host`). */
  settings?: TransportSettings;
  userAgent: string;
  /** `--platform`, when given (else each transport's default: ./entry.ts `PlatformDefault`). */
  platforms?: PlatformSelector;
  /** Leave foreign layers of registry images out (listed as required). */
  skipForeign: boolean;
  /** Stop the registry downloads when this aborts (an interrupted command). */
  interrupt?: AbortSignal;
  /** Asked when the copy starts: the signal that stops it cleanly from then on. */
  cancellation?: () => AbortSignal;
  onNote?: (text: string) => void;
}

export interface SaveOutcome {
  report: SaveReport;
  /** Foreign layers left out under `skipForeign`. */
  omitted: Descriptor[];
  /** What the network and the download cache did, when a registry was read. */
  transfer?: TransferStats;
}

/** The platforms to take from a source the request gives none for. */
function platformsOf(spec: SourceSpec, chosen: PlatformSelector | undefined): PlatformSelector {
  switch (sourceRole(spec).platforms) {
    case "all":
      return "all";
    case "host":
      return chosen ?? [hostPlatform()];
    default:
      return chosen ?? "all";
  }
}

/** Blobs a source left out on purpose and lists (a registry source under --skip-foreign). */
function omittedBy(source: Source): Descriptor[] {
  const omitted = (source as { omitted?: unknown }).omitted;
  return Array.isArray(omitted) ? (omitted as Descriptor[]) : [];
}

export async function saveFromSources(
  requests: SaveRequest[],
  options: SaveFromSourcesOptions,
): Promise<SaveOutcome> {
  const {
    registry: flags,
    settings,
    userAgent,
    platforms,
    skipForeign,
    onNote,
    interrupt,
    cancellation,
    ...save
  } = options;
  const needs = new Set(requests.flatMap(({ spec }) => sourceRole(spec).needs ?? []));
  const inputs: SaveInput[] = [];
  let session: RegistrySession | undefined;
  try {
    if (needs.has("registry")) {
      // One bundle file: downloads go straight into it (split volumes: through the cache).
      session = await openRegistrySession(flags, {
        ...(onNote ? { onNote } : {}),
        userAgent,
        direct: !save.split,
        ...(interrupt ? { signal: interrupt } : {}),
      });
    }
    const downloadNetwork = needs.has("network")
      ? await downloadNetworkFromFlags(flags, { userAgent })
      : undefined;
    const batch = { specs: requests.map(({ spec }) => spec), shared: new Map<string, unknown>() };
    for (const request of requests) {
      const source = await openSource(request.spec, {
        batch,
        tempDir: path.dirname(path.resolve(save.output)),
        cacheDir: flags.cache ?? defaultCacheDir(),
        ...(settings ? { settings } : {}),
        downloadLimits: downloadLimitsFromFlags(flags),
        ...(downloadNetwork ? { downloadNetwork } : {}),
        ...(session ? { registry: { session, skipForeign } } : {}),
        ...(onNote ? { onNote } : {}),
      });
      inputs.push({
        source,
        platforms: request.platforms ?? platformsOf(request.spec, platforms),
      });
    }
    if (session && !platforms) onNote?.(describeDefaultPlatform(hostPlatform()));
    const report = await saveBundle(inputs, {
      ...save,
      ...(cancellation ? { signal: cancellation() } : {}),
      ...(onNote ? { onNote } : {}),
      ...(session ? { downloads: session } : {}),
    }).catch(async (error: unknown) => {
      throw session ? await session.explainFailure(error) : error;
    });
    return {
      report,
      omitted: inputs.flatMap(({ source }) => omittedBy(source)),
      ...(session ? { transfer: session.stats } : {}),
    };
  } finally {
    for (const { source } of inputs) await source.close().catch(() => {});
    await session?.close();
  }
}

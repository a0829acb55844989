import { planImage } from "../engine/plan.js";
import { FerryError } from "../errors.js";
import { LayoutSource } from "../transports/layout/source.js";
import { Store } from "../transports/layout/store.js";
import type { AttachedArtifact } from "../types/attached.js";
import { type ImageConfig, parseImageConfig, parseManifest } from "../types/manifest.js";
import { formatPlatform, type PlatformSelector } from "../types/platform.js";
import { storeRefName } from "./wim-refs.js";

async function planStored(storeDir: string, ref: string, platforms: PlatformSelector) {
  const store = await Store.open(storeDir);
  const source = await LayoutSource.open(store.files, {
    transport: `store:${store.dir}`,
    fallbackRepository: "localhost/unnamed",
    refName: await storeRefName(store, ref),
  });
  const [image] = await source.images();
  if (!image) throw new FerryError("ENOTFOUND", `no image ${ref} in ${store.dir}`);
  return { image, plan: await planImage(source, image, { platforms }) };
}

export interface StoredImageDetails {
  ref: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  size: number;
  annotations: Record<string, string>;
  manifests: Array<{ digest: string; mediaType: string; document: unknown }>;
  configs: Array<{ digest: string; config: ImageConfig }>;
  /** What is attached to the image (signatures, attestations, SBOMs), each checked. */
  attached: AttachedArtifact[];
  /** A root that is not a container image (a Helm chart...): its artifactType or config type. */
  artifactType?: string;
}

/** `ferry inspect REF`: a stored image's manifests and configs. */
export async function inspectStoredImage(
  storeDir: string,
  ref: string,
): Promise<StoredImageDetails> {
  const { image, plan } = await planStored(storeDir, ref, "all");
  return {
    ref: image.name,
    digest: image.descriptor.digest,
    mediaType: image.descriptor.mediaType,
    platforms: plan.platforms.map(formatPlatform),
    size: plan.size,
    annotations: image.descriptor.annotations ?? {},
    manifests: plan.manifests.map((m) => ({
      digest: m.descriptor.digest,
      mediaType: m.descriptor.mediaType,
      document: JSON.parse(m.bytes.toString("utf8")),
    })),
    configs: [...plan.configBytes].map(([digest, bytes]) => ({
      digest,
      config: parseImageConfig(bytes, digest),
    })),
    attached: plan.attached,
    ...(plan.artifactType ? { artifactType: plan.artifactType } : {}),
  };
}

export interface HistoryRow {
  layer: string | null;
  created?: string;
  createdBy: string;
  size: number;
  comment?: string;
  emptyLayer: boolean;
}

/** `ferry history REF`: layers with the config's history, newest first (like docker history). */
export async function imageHistory(
  storeDir: string,
  ref: string,
  platforms: PlatformSelector,
): Promise<{ ref: string; platform: string; rows: HistoryRow[] }> {
  const { image, plan } = await planStored(storeDir, ref, platforms);
  const manifestEntry = plan.manifests.find((m) => m.descriptor.digest === plan.root.digest);
  if (!manifestEntry) throw new FerryError("EINTERNAL", `no manifest for ${ref}`);
  const parsed = parseManifest(manifestEntry.bytes, manifestEntry.descriptor.mediaType, ref);
  if (parsed.kind !== "manifest") {
    throw new FerryError(
      "EUSAGE",
      `${ref} has several platforms (${plan.platforms.map(formatPlatform).join(", ")})`,
      {
        hint: "choose one with --platform os/arch",
      },
    );
  }
  const configBytes = plan.configBytes.get(parsed.manifest.config.digest);
  const config = configBytes ? parseImageConfig(configBytes, "config") : {};
  const layers = [...parsed.manifest.layers];
  const history: NonNullable<ImageConfig["history"]> =
    config.history ?? layers.map(() => ({ created_by: "" }));
  const rows: HistoryRow[] = history.map((step) => {
    const layer = step.empty_layer ? undefined : layers.shift();
    const row: HistoryRow = {
      layer: layer?.digest ?? null,
      createdBy: step.created_by ?? "",
      size: layer?.size ?? 0,
      emptyLayer: Boolean(step.empty_layer),
    };
    if (step.created) row.created = step.created;
    if (step.comment) row.comment = step.comment;
    return row;
  });
  for (const layer of layers)
    rows.push({ layer: layer.digest, createdBy: "", size: layer.size, emptyLayer: false });
  return {
    ref: image.name,
    platform: plan.platforms.map(formatPlatform).join(",") || "-",
    rows: rows.reverse(),
  };
}

export interface LogEntry {
  action: string;
  time: string;
  bundle?: string;
  bundleId?: string;
  images?: Array<{ name: string; digest: string }>;
  [key: string]: unknown;
}

/** `ferry log`: what was loaded into the store, and when. */
export async function readLoadLog(storeDir: string): Promise<LogEntry[]> {
  const store = await Store.open(storeDir);
  const text = await store.readLog();
  const entries: LogEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as LogEntry);
    } catch {
      // a line cut by a crash: skipped
    }
  }
  return entries;
}

import { createHash } from "node:crypto";
import { lstat, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { isFerryError } from "../errors.js";
import { attachedOfEntry } from "../transports/layout/attached-records.js";
import { blobPath, refNameOf } from "../transports/layout/index-file.js";
import { Store } from "../transports/layout/store.js";
import type { Descriptor } from "../types/descriptor.js";
import { type Digest, isSha256Hex } from "../types/digest.js";
import { parseManifest } from "../types/manifest.js";
import { isIndexMediaType, isManifestMediaType } from "../types/media-types.js";
import { describeKind, NotRegularFileError, openRegularFile } from "../util/safe-open.js";

/**
 * `not-a-file`: a name under blobs/sha256/ that is a symbolic link, FIFO, directory... (never
 * read; `--repair` moves it to quarantine).
 */
export type CheckProblemKind = "damaged-blob" | "missing-blob" | "bad-manifest" | "not-a-file";

export interface CheckProblem {
  kind: CheckProblemKind;
  digest: string;
  message: string;
  /** The image names this problem breaks. */
  images: string[];
}

export interface CheckReport {
  store: string;
  ok: boolean;
  images: number;
  blobsChecked: number;
  bytesChecked: number;
  problems: CheckProblem[];
  /** Complete blobs no image names (garbage, reclaimable). */
  orphans: Array<{ digest: string; size: number }>;
  /** Staging directories and temp files left by killed runs. */
  staleTemp: string[];
  repaired?: {
    orphansRemoved: number;
    bytesFreed: number;
    tempRemoved: number;
    quarantined: string[];
  };
  seconds: number;
}

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** The sha256 of a blob file, opened as a store file must be (no link, no FIFO). */
async function sha256Blob(store: Store, digest: Digest): Promise<string> {
  const { handle } = await openRegularFile(
    store.blobFile(digest),
    store.rulesFor(blobPath(digest)),
  );
  const hash = createHash("sha256");
  try {
    for await (const chunk of handle.createReadStream({
      highWaterMark: 1024 * 1024,
      autoClose: false,
    }))
      hash.update(chunk as Buffer);
  } finally {
    await handle.close().catch(() => {});
  }
  return hash.digest("hex");
}

function notAFile(digest: string, kind: string, images: string[]): CheckProblem {
  return {
    kind: "not-a-file",
    digest,
    message: `blob ${digest} is ${kind}, not a regular file: not read (\`ferry check --repair\` moves it to quarantine)`,
    images,
  };
}

interface Walk {
  /** digest -> images needing it */
  owners: Map<string, Set<string>>;
  problems: CheckProblem[];
}

function own(walk: Walk, digest: string, image: string): void {
  const set = walk.owners.get(digest) ?? new Set<string>();
  set.add(image);
  walk.owners.set(digest, set);
}

/** Walk one image from its index entry, noting every digest it needs and what is missing. */
async function walkImage(
  store: Store,
  root: Descriptor,
  image: string,
  walk: Walk,
  depth = 0,
): Promise<void> {
  // A digest this image met already (an index may name one child many times, nested) is
  // walked once: otherwise N repeats L levels deep cost N^L reads.
  if (walk.owners.get(root.digest)?.has(image)) return;
  own(walk, root.digest, image);
  if (!isIndexMediaType(root.mediaType) && !isManifestMediaType(root.mediaType)) return;
  const bytes = await store.files
    .readFile(blobPath(root.digest), MAX_MANIFEST_BYTES)
    .catch(() => undefined);
  if (bytes === undefined) return; // reported as missing by the presence check
  let parsed: ReturnType<typeof parseManifest>;
  try {
    parsed = parseManifest(bytes, root.mediaType, `manifest ${root.digest}`);
  } catch (error) {
    walk.problems.push({
      kind: "bad-manifest",
      digest: root.digest,
      message: `manifest ${root.digest} of ${image} cannot be read: ${isFerryError(error) ? error.message : String(error)}`,
      images: [image],
    });
    return;
  }
  if (parsed.kind === "index") {
    if (depth < 8)
      for (const child of parsed.index.manifests)
        await walkImage(store, child, image, walk, depth + 1);
    return;
  }
  own(walk, parsed.manifest.config.digest, image);
  for (const layer of parsed.manifest.layers) own(walk, layer.digest, image);
}

/** Staging folders and temp files left by runs that are provably gone (see Store.staleTemp). */
export async function findStaleTemp(store: Store): Promise<string[]> {
  return (await store.staleTemp()).map((stale) => stale.path);
}

/**
 * Check a store: re-hash every blob, walk every index entry (each problem says which images it
 * breaks), find orphans and stale temp files. With `repair`, remove only what is provably
 * garbage (orphan blobs, temp files of dead processes) and move damaged blobs to
 * `.ferry/quarantine/` so the next load of their bundle writes them again.
 */
export async function checkStore(
  storeDir: string,
  options: { repair?: boolean } = {},
): Promise<CheckReport> {
  const started = Date.now();
  const store = await Store.open(storeDir);
  return store.withLock(options.repair ? "repairing the store" : "checking the store", async () => {
    const index = await store.readIndex();
    const walk: Walk = { owners: new Map(), problems: [] };
    for (const root of index.manifests) {
      const image = refNameOf(root) ?? root.digest;
      await walkImage(store, root, image, walk);
      for (const { mediaType, digest, size } of attachedOfEntry(root, store.dir)) {
        await walkImage(store, { mediaType, digest, size }, image, walk);
      }
    }

    const present = new Map<string, number>();
    /** Names under blobs/sha256/ that are not regular files, and what they are. */
    const strange = new Map<string, string>();
    for (const name of await readdir(store.blobDir).catch(() => [] as string[])) {
      if (!isSha256Hex(name)) continue;
      const info = await lstat(path.join(store.blobDir, name)).catch(() => undefined);
      if (info?.isFile()) present.set(`sha256:${name}`, info.size);
      else if (info) strange.set(`sha256:${name}`, describeKind(info));
    }
    const report: CheckReport = {
      store: store.dir,
      ok: false,
      images: index.manifests.length,
      blobsChecked: 0,
      bytesChecked: 0,
      problems: walk.problems,
      orphans: [],
      staleTemp: await findStaleTemp(store),
      seconds: 0,
    };
    const damaged: string[] = [];
    const imagesOf = (digest: string) => [...(walk.owners.get(digest) ?? [])].sort();
    for (const [digest, size] of present) {
      let found: string;
      try {
        found = await sha256Blob(store, digest as Digest);
      } catch (error) {
        // Swapped for a link or a FIFO since it was listed.
        if (!(error instanceof NotRegularFileError)) throw error;
        strange.set(digest, error.kind);
        continue;
      }
      report.blobsChecked++;
      report.bytesChecked += size;
      const images = imagesOf(digest);
      if (`sha256:${found}` !== digest) {
        damaged.push(digest);
        report.problems.push({
          kind: "damaged-blob",
          digest,
          message: `blob ${digest} is damaged: its bytes hash to sha256:${found}`,
          images,
        });
      } else if (images.length === 0) {
        report.orphans.push({ digest, size });
      }
    }
    for (const [digest, kind] of strange) {
      damaged.push(digest);
      report.problems.push(notAFile(digest, kind, imagesOf(digest)));
    }
    for (const [digest, owners] of walk.owners) {
      if (present.has(digest) || strange.has(digest)) continue;
      report.problems.push({
        kind: "missing-blob",
        digest,
        message: `blob ${digest} is missing`,
        images: [...owners].sort(),
      });
    }
    if (options.repair) report.repaired = await repair(store, report, damaged);
    report.ok = report.problems.length === 0;
    report.seconds = (Date.now() - started) / 1000;
    return report;
  });
}

async function repair(
  store: Store,
  report: CheckReport,
  damaged: string[],
): Promise<NonNullable<CheckReport["repaired"]>> {
  let bytesFreed = 0;
  for (const orphan of report.orphans) {
    await rm(store.blobFile(orphan.digest as Digest), { force: true });
    bytesFreed += orphan.size;
  }
  for (const temp of report.staleTemp) await rm(temp, { recursive: true, force: true });
  const quarantine = damaged.length > 0 ? await store.quarantineDir() : "";
  // A link or FIFO is moved as it is (rename never follows or opens it).
  for (const digest of damaged) {
    await rename(
      store.blobFile(digest as Digest),
      path.join(quarantine, `${digest.slice(7)}.${Date.now()}`),
    );
  }
  await store.syncBlobDirectory();
  return {
    orphansRemoved: report.orphans.length,
    bytesFreed,
    tempRemoved: report.staleTemp.length,
    quarantined: damaged,
  };
}

import { VerifyingStream } from "../digest/verifying-stream.js";
import type { CopyEvent } from "../engine/copy.js";
import { type BundleProblem, isFerryError } from "../errors.js";
import { BundleReader } from "../transports/bundle/reader.js";
import { BundleSource } from "../transports/bundle/source.js";
import { DiscardSink } from "../transports/discard.js";
import type { TrustedKey } from "../trust/keys.js";
import type { BundleManifest } from "../types/bundle.js";
import { type CosignPolicy, type CosignVerdict, checkCosign } from "./cosign-check.js";
import { describeSplit, openBundleRandomAccess, type SplitReport } from "./open-bundle.js";
import { copyPlans, planImages, warmUpFor } from "./transfer.js";

export interface VerifyReport {
  bundle: string;
  id?: string;
  ok: boolean;
  images: Array<{ ref: string; digest: string; ok: boolean }>;
  blobsChecked: number;
  bytesChecked: number;
  problems: BundleProblem[];
  /** The key that signed ferry.json, and whether it was checked against trusted keys. */
  signature?: { keyId: string; verified: boolean };
  /** Split volumes: each part's check (presence, size, sha256) and whether repair can help. */
  split?: SplitReport;
  /** With `--cosign-key`: each image's cosign signatures judged against the keys. */
  cosign?: { keys: string[]; requireSigned: boolean; images: CosignVerdict[] };
  seconds: number;
}

function asProblem(error: unknown, subject: string, images: string[]): BundleProblem {
  if (isFerryError(error)) {
    return { subject, code: error.code, message: error.message, images };
  }
  return { subject, code: "EINTERNAL", message: String(error), images };
}

/** Hash the carried blobs no image plan reached (unreferenced, or under a broken manifest). */
async function checkRemainingBlobs(
  reader: BundleReader,
  manifest: BundleManifest,
  checked: Set<string>,
  report: VerifyReport,
): Promise<void> {
  for (const blob of manifest.blobs) {
    if (checked.has(blob.digest)) continue;
    const entry = reader.entry(`blobs/sha256/${blob.digest.slice(7)}`);
    if (!entry) continue;
    const verifier = new VerifyingStream(blob, `blob ${blob.digest}`);
    try {
      const input = reader.openEntry(entry);
      input.on("error", (error) => verifier.destroy(error));
      for await (const _chunk of input.pipe(verifier)) {
        // hashing happens as the bytes pass
      }
      report.blobsChecked++;
      report.bytesChecked += blob.size;
    } catch (error) {
      report.problems.push(asProblem(error, blob.digest, reader.imagesOf(blob.digest)));
    }
  }
}

/**
 * Check a bundle's structure and every byte of it. Every problem is collected (not only the
 * first), each naming the entry or blob, the images it breaks, and expected vs found.
 */
export async function verifyBundle(
  path: string,
  options: {
    onEvent?: (event: CopyEvent) => void;
    trust?: TrustedKey[];
    cosign?: CosignPolicy;
    /** Given the ferry.json this verification read and checked (read once: for a report). */
    onManifest?: (manifest: BundleManifest) => void;
    /** Split volumes: a folder of rebuilt volumes read instead of those in place. */
    partsFrom?: string;
  } = {},
): Promise<VerifyReport> {
  const started = Date.now();
  const trust = options.trust ?? [];
  // Split volumes: `.parts` is read once (and its signature checked on those bytes), every
  // part hashed against it; the reader below uses the same `.parts`, never a second read.
  const opened = await openBundleRandomAccess(path, {
    hash: true,
    collect: true,
    trust,
    partsFrom: options.partsFrom,
  });
  const split = opened.split ? describeSplit(opened.split) : undefined;
  if (split && !split.partsOk) {
    await opened.source.close();
    // Bad parts are named by file before anything else is read; the rest would only echo them.
    return {
      ...{ bundle: path, ok: false, images: [], blobsChecked: 0, bytesChecked: 0 },
      ...{ problems: split.problems, split, seconds: (Date.now() - started) / 1000 },
    };
  }
  await warmUpFor(path);
  const reader = await BundleReader.fromOpened(opened, { collectProblems: true, trust });
  const report: VerifyReport = {
    bundle: path,
    ok: false,
    images: [],
    blobsChecked: 0,
    bytesChecked: 0,
    problems: [...reader.problems],
    ...(split ? { split } : {}),
    seconds: 0,
  };
  try {
    const manifest = reader.manifest;
    if (reader.signatureKeyId) {
      report.signature = { keyId: reader.signatureKeyId, verified: reader.signatureVerified };
    }
    if (manifest) {
      options.onManifest?.(manifest);
      report.id = manifest.id;
      if (split?.id && split.id !== manifest.id) {
        report.problems.push({
          subject: split.partsFile ?? split.bundle,
          code: "EBADBUNDLE",
          message: `${split.partsFile} describes bundle ${split.id}, but the parts hold bundle ${manifest.id}: it belongs to another save`,
        });
      }
      const source = new BundleSource(reader);
      const plans = await planImages([{ source, platforms: "all" }], {
        onPlanError: (image, error) =>
          report.problems.push(asProblem(error, image.descriptor.digest, [image.name])),
      });
      const checked = new Set<string>();
      const countedManifests = new Set<string>();
      for (const plan of plans) {
        for (const m of plan.manifests) checked.add(m.descriptor.digest);
        for (const b of plan.blobs)
          if (!source.lacksBlob(b.descriptor)) checked.add(b.descriptor.digest);
      }
      const copyable = plans.map((plan) => ({
        ...plan,
        blobs: plan.blobs.filter((b) => !source.lacksBlob(b.descriptor)),
      }));
      const result = await copyPlans(new DiscardSink(), copyable, { ...options, keepGoing: true });
      report.blobsChecked += result.blobsCopied;
      report.bytesChecked += result.bytesCopied;
      for (const plan of plans) {
        for (const m of plan.manifests) {
          if (countedManifests.has(m.descriptor.digest)) continue;
          countedManifests.add(m.descriptor.digest);
          report.blobsChecked++;
          report.bytesChecked += m.descriptor.size;
        }
      }
      for (const problem of result.problems) {
        report.problems.push({
          subject: problem.digest,
          code: problem.code as BundleProblem["code"],
          message: problem.message,
          images: reader.imagesOf(problem.digest),
        });
      }
      await checkRemainingBlobs(reader, manifest, checked, report);
      if (options.cosign && options.cosign.keys.length > 0) {
        const { keys, requireSigned } = options.cosign;
        try {
          report.cosign = {
            keys: keys.map((k) => k.source),
            requireSigned,
            images: await checkCosign(plans, keys),
          };
        } catch (error) {
          report.problems.push(asProblem(error, "cosign signatures", []));
        }
      }
      const broken = new Set(report.problems.flatMap((p) => p.images ?? []));
      report.images = manifest.images.map((image) => ({
        ref: image.ref,
        digest: image.digest,
        ok: !broken.has(image.ref),
      }));
    }
  } finally {
    await reader.close();
  }
  const unsigned = report.cosign?.requireSigned
    ? report.cosign.images.filter((i) => !i.signed)
    : [];
  report.ok = report.problems.length === 0 && unsigned.length === 0;
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

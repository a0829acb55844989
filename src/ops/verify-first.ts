/**
 * Read and hash every blob a set of image plans carries, writing nothing: the check that runs
 * before a copy that cannot be undone (a registry keeps whatever it was sent, so a bad blob
 * found half-way would leave blobs and repositories behind) and instead of a copy (a dry run).
 * One read at hash speed; manifests and configs were already checked while planning.
 */

import type { CopyEvent } from "../engine/copy.js";
import type { ImagePlan } from "../engine/plan.js";
import { FerryError, isFerryError } from "../errors.js";
import { DiscardSink } from "../transports/discard.js";
import { copyPlans } from "./transfer.js";

export interface VerifiedBlobs {
  blobs: number;
  bytes: number;
}

/**
 * Hash every blob the plans' sources carry (each digest once). Blobs a source lacks on purpose
 * (a delta's base, a foreign layer left out) are not read: the copy itself deals with them.
 * The first bad blob throws its error (EINTEGRITY, ESIZE, ENOTFOUND), naming blob and images.
 */
export async function verifyCarriedBlobs(
  plans: ImagePlan[],
  options: { onEvent?: (event: CopyEvent) => void; jobs?: number } = {},
): Promise<VerifiedBlobs> {
  const carried = plans.map((plan) => ({
    ...plan,
    blobs: plan.blobs.filter((blob) => !plan.source.capabilities?.lacksBlob?.(blob.descriptor)),
  }));
  const result = await copyPlans(new DiscardSink(), carried, options);
  return { blobs: result.blobsCopied, bytes: result.bytesCopied };
}

/** A verification failure, saying that nothing was written to `where` and what to do. */
export function nothingWritten(error: unknown, where: string, hint: string): unknown {
  if (!isFerryError(error)) return error;
  return new FerryError(error.code, `${error.message}; nothing was written to ${where}`, {
    hint: error.hint ?? hint,
    details: error.details,
    cause: error,
  });
}

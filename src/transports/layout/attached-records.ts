/**
 * How the store records what is attached to an image: the annotation `vnd.ferry.attached` on
 * the image's index.json entry, a JSON list of ferry.json's attached records (see
 * docs/store-format.md). It is written with the entry, in the same rename of index.json, and
 * goes away with the name; `ferry gc` keeps every blob it names.
 */

import { FerryError } from "../../errors.js";
import {
  ATTACHED_ANNOTATION,
  type AttachedArtifact,
  attachedAnnotationValue,
  mergeAttached,
  parseAttachedAnnotation,
} from "../../types/attached.js";
import type { Descriptor } from "../../types/descriptor.js";
import type { ImageRecord } from "../../types/transport.js";
import { refNameOf } from "./index-file.js";

/** The records of an index.json entry (a malformed annotation: EBADSTORE naming the entry). */
export function attachedOfEntry(entry: Descriptor, where: string): AttachedArtifact[] {
  return parseAttachedAnnotation(entry.annotations?.[ATTACHED_ANNOTATION], (problem) => {
    throw new FerryError(
      "EBADSTORE",
      `${where}: the index.json entry of ${refNameOf(entry) ?? entry.digest}: ${problem}`,
      {
        hint: "load the image again (its entry is rewritten), or remove the annotation by hand",
      },
    );
  });
}

/**
 * The annotation for a record about to be named: its attached artifacts, plus what the entry
 * it replaces recorded for manifests the image still has (a load never drops them).
 */
export function attachedAnnotations(
  record: ImageRecord,
  previous: Descriptor | undefined,
): Record<string, string> {
  const contents = new Set(record.contents.map((c) => c.digest as string));
  let earlier: AttachedArtifact[] = [];
  try {
    earlier = previous ? attachedOfEntry(previous, "store") : [];
  } catch {
    // a damaged record is replaced by this load's
  }
  const value = attachedAnnotationValue(mergeAttached(earlier, record.attached ?? [], contents));
  return value === undefined ? {} : { [ATTACHED_ANNOTATION]: value };
}

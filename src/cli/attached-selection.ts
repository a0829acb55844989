import { UsageError } from "../errors.js";
import { type AttachedSelection, isAttachedTypeWord } from "../types/attached.js";
import { escapeControls } from "../types/terminal-text.js";

/** `--attached TYPE...` / `--no-attached` as a selection: undefined (all), false (none), or types. */
export function attachedSelection(
  value: string[] | false | undefined,
): AttachedSelection | false | undefined {
  if (value === undefined || value === false) return value;
  const types = value
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
  const bad = types.find((t) => !isAttachedTypeWord(t));
  if (bad !== undefined) {
    throw new UsageError(
      `--attached ${escapeControls(bad)}: expected signature, attestation, sbom, artifact, or a media type (type/subtype)`,
      { hint: "e.g. --attached signature --attached application/spdx+json" },
    );
  }
  return { types };
}

import path from "node:path";
import { FerryError } from "../../errors.js";

/**
 * A split bundle loaded with `--trust` whose `.parts.sig` is not beside its `.parts`. The
 * `.parts` file is checked before any volume is read, so the usual cause is a file left behind
 * (`ferry save --sign` writes it and lists it among the files to copy): copying it is the fix,
 * not dropping `--trust`.
 */
export function missingPartsSignature(partsFile: string): FerryError {
  const signature = `${partsFile}.sig`;
  const name = path.basename(signature);
  return new FerryError(
    "ETRUST",
    `${name} is missing next to ${path.basename(partsFile)}: with --trust, a split bundle's .parts file must be signed, and a signed save writes that signature to ${name}, which was not copied`,
    {
      hint: `copy ${name} from where the bundle was saved into ${path.dirname(signature)} (\`ferry save\` lists it among the files to copy), then run this again (a bundle saved without --sign cannot be loaded with --trust)`,
      details: { missing: signature },
    },
  );
}

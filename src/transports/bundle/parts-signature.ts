import path from "node:path";
import { FerryError } from "../../errors.js";

/**
 * A signed split bundle whose `.parts.sig` did not travel. ferry.json's own signature was
 * already checked (an unsigned bundle is refused before this, as "not signed"), so the bundle
 * is signed: the file was left behind, and copying it is the fix, not dropping `--trust`.
 */
export function missingPartsSignature(partsFile: string): FerryError {
  const signature = `${partsFile}.sig`;
  const name = path.basename(signature);
  return new FerryError(
    "ETRUST",
    `${name} is missing next to ${path.basename(partsFile)}: this split bundle is signed, and its .parts file is signed in ${name}, which was not copied`,
    {
      hint: `copy ${name} from where the bundle was saved into ${path.dirname(signature)} (\`ferry save\` lists it among the files to copy), then run this again`,
      details: { missing: signature },
    },
  );
}

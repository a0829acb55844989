import { FerryError } from "../errors.js";
import { type Digest, isDigest } from "./digest.js";
import { decodeTextFile } from "./text-file.js";

export const HAVE_SCHEMA = "ferry.have/v1";

/** What an offline store holds: written by `ferry have`, read by `ferry save --since`. */
export interface HaveList {
  schema: typeof HAVE_SCHEMA;
  storeId: string;
  created: string;
  tool: string;
  blobs: Digest[];
  images: Array<{ ref: string; digest: Digest }>;
}

export function parseHaveList(bytes: Uint8Array, where: string): HaveList {
  let doc: unknown;
  try {
    // A BOM, UTF-16 or CRLF line ends (a have-list moved through a Windows tool) are fine.
    doc = JSON.parse(decodeTextFile(bytes));
  } catch (error) {
    throw new FerryError("EUSAGE", `${where} is not valid JSON (${(error as Error).message})`);
  }
  const m = doc as Partial<HaveList>;
  const valid =
    m?.schema === HAVE_SCHEMA &&
    typeof m.storeId === "string" &&
    Array.isArray(m.blobs) &&
    m.blobs.every(isDigest) &&
    Array.isArray(m.images) &&
    m.images.every((i) => typeof i?.ref === "string" && isDigest(i.digest));
  if (!valid) {
    throw new FerryError("EUSAGE", `${where} is not a ferry have-list (${HAVE_SCHEMA})`, {
      hint: "write one on the offline host with `ferry have -o have.json`",
    });
  }
  return m as HaveList;
}

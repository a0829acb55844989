/**
 * One pass over a WIM's bytes (a file, or a download on its way to disk) that computes its
 * sha256 and size and keeps the two pieces ferry names the OS image from: the 208-byte header
 * and the XML data. Name and version therefore come from exactly the bytes that were hashed:
 * the WIM's own integrity table covers neither, so the sha256 is what protects them.
 */

import { createHash } from "node:crypto";
import { FerryError } from "../../errors.js";
import { type Digest, digestFromHex } from "../../types/digest.js";
import { parseWimResourceHeader, WIM_HEADER_SIZE, WIM_MAGIC } from "./header.js";
import { MAX_WIM_XML_BYTES } from "./reader.js";

/** What one hashing pass over a WIM saw. */
export interface WimHashPass {
  digest: Digest;
  size: number;
  /** The first 208 bytes (fewer when the input was shorter). */
  headerBytes: Buffer;
  /** The XML data resource as stored (empty when the header did not allow capturing it). */
  xmlBytes: Buffer;
  /** Seconds the pass took. */
  seconds: number;
}

const XML_DATA_OFFSET = 0x48;

/**
 * Consume `input`, hashing every byte; `onChunk` sees each chunk after it was hashed (to write a
 * download to disk). Fails early, after the first 8 bytes, when the input is not a WIM.
 */
export async function hashWimStream(
  input: AsyncIterable<Buffer | Uint8Array>,
  label: string,
  onChunk?: (chunk: Buffer) => Promise<void> | void,
): Promise<WimHashPass> {
  const started = process.hrtime.bigint();
  const hash = createHash("sha256");
  const header = Buffer.alloc(WIM_HEADER_SIZE);
  let xml: { start: number; end: number; bytes: Buffer } | undefined;
  let offset = 0;
  for await (const raw of input) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    hash.update(chunk);
    const chunkStart = offset;
    const chunkEnd = offset + chunk.length;
    if (chunkStart < WIM_HEADER_SIZE) {
      chunk.copy(header, chunkStart, 0, Math.min(chunk.length, WIM_HEADER_SIZE - chunkStart));
      if (chunkStart < WIM_MAGIC.length && chunkEnd >= WIM_MAGIC.length) {
        if (!header.subarray(0, WIM_MAGIC.length).equals(WIM_MAGIC)) {
          throw new FerryError(
            "EBADWIM",
            `${label}: not a WIM file (it does not start with MSWIM)`,
            {
              hint: "is this a .wim file? (a web server may have sent an error page instead)",
            },
          );
        }
      }
      if (chunkEnd >= WIM_HEADER_SIZE) xml = xmlRange(header, label);
    }
    if (xml && chunkEnd > xml.start && chunkStart < xml.end) {
      const from = Math.max(xml.start, chunkStart);
      const to = Math.min(xml.end, chunkEnd);
      chunk.copy(xml.bytes, from - xml.start, from - chunkStart, to - chunkStart);
    }
    offset = chunkEnd;
    if (onChunk) await onChunk(chunk);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    digest: digestFromHex(hash.digest("hex")),
    size: offset,
    headerBytes: header.subarray(0, Math.min(offset, WIM_HEADER_SIZE)),
    xmlBytes: xml && offset >= xml.end ? xml.bytes : Buffer.alloc(0),
    seconds,
  };
}

/** Where the XML data lies, when the header describes an uncompressed one of sane size. */
function xmlRange(
  header: Buffer,
  label: string,
): { start: number; end: number; bytes: Buffer } | undefined {
  const resource = parseWimResourceHeader(header, XML_DATA_OFFSET, "XML data", label);
  if (resource.compressed || resource.sizeInWim === 0 || resource.sizeInWim > MAX_WIM_XML_BYTES) {
    return undefined;
  }
  if (resource.offset < WIM_HEADER_SIZE) return undefined;
  return {
    start: resource.offset,
    end: resource.offset + resource.sizeInWim,
    bytes: Buffer.alloc(resource.sizeInWim),
  };
}

/**
 * Reading what planning trusts: a manifest or index checked against its descriptor (digest,
 * size, shape, media type) and a bounded read of a small blob (an image config).
 */

import { Buffer } from "node:buffer";
import type { Readable } from "node:stream";
import { verifyBytes } from "../digest/verifying-stream.js";
import { FerryError } from "../errors.js";
import type { Descriptor } from "../types/descriptor.js";
import { descriptorTypeProblem, type ParsedManifest, parseManifest } from "../types/manifest.js";
import type { Source } from "../types/transport.js";
import { released } from "./released.js";

/** A stream read whole into memory, refused past `limit` bytes; released either way. */
export async function readStream(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      total += (chunk as Buffer).length;
      if (total > limit) throw new FerryError("EBADIMAGE", `${what} is larger than ${limit} bytes`);
      chunks.push(chunk as Buffer);
    }
  } finally {
    await released(stream);
  }
  return Buffer.concat(chunks);
}

/**
 * Refuse a descriptor whose media type disagrees with the manifest or index it names (kind, or
 * OCI against Docker): written into the store's index.json, a wrong type leaves an image that
 * other tools (skopeo) cannot read.
 */
export function checkDescriptorType(
  descriptor: Descriptor,
  parsed: ParsedManifest,
  what: string,
  image: string,
): void {
  const problem = descriptorTypeProblem(descriptor.mediaType, parsed);
  if (!problem) return;
  throw new FerryError("EBADIMAGE", `${what}: ${problem.message}`, {
    hint: "the index that names it (a bundle's or layout's index.json, or a parent index) gives it the wrong media type; nothing was written",
    details: {
      image,
      digest: descriptor.digest,
      declared: problem.declared,
      actual: problem.actual,
    },
  });
}

/** The manifest or index a descriptor names: digest, size, shape and media type checked. */
export async function fetchVerifiedManifest(
  source: Source,
  descriptor: Descriptor,
  what: string,
  image: string,
): Promise<{ bytes: Buffer; parsed: ParsedManifest }> {
  const bytes = await source.fetchManifest(descriptor);
  verifyBytes(bytes, descriptor, what);
  const parsed = parseManifest(bytes, descriptor.mediaType, what);
  checkDescriptorType(descriptor, parsed, what, image);
  return { bytes, parsed };
}

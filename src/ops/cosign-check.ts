/**
 * The cosign policy gate at the air gap (`--cosign-key KEY.pub`, `--require-signed`): for each
 * planned image, whether a cosign signature it carries was made by one of the keys over a
 * simple-signing payload naming the image's digest. Everything is read from the plan (its
 * manifests were fetched and checked while planning) and the payload blobs, each read once,
 * checked against its digest and used from that buffer. Nothing is written.
 *
 * What must be signed: the digest the image's name points at. A platform subset of an index
 * that ferry narrowed has a digest nobody signed: each kept platform manifest must be signed
 * instead (`cosign sign --recursive` signs them).
 */

import { verifyBytes } from "../digest/verifying-stream.js";
import type { ImagePlan } from "../engine/plan.js";
import { FerryError } from "../errors.js";
import type { CosignKey } from "../trust/cosign-keys.js";
import { cosignSignatureValid } from "../trust/cosign-keys.js";
import { cosignSignatureLayers, MAX_PAYLOAD_BYTES, signedDigestOf } from "../types/cosign.js";
import type { Descriptor } from "../types/descriptor.js";
import { parseManifest } from "../types/manifest.js";
import { isIndexMediaType } from "../types/media-types.js";

/** What the gate found for one image. */
export interface CosignVerdict {
  ref: string;
  digest: string;
  /** Signed by one of the keys, over a payload naming each digest that must be signed. */
  signed: boolean;
  /** The files of the keys that signed it. */
  keys: string[];
  /** The digests that must be signed and are not (empty when signed). */
  unsigned: string[];
  /** Signatures that did not count, and why (a wrong key, a payload naming another digest). */
  rejected: string[];
}

export interface CosignPolicy {
  keys: CosignKey[];
  /** Refuse (ETRUST) when an image is not signed by one of the keys. */
  requireSigned: boolean;
}

/** The digests whose signature makes the image signed (see the module comment). */
function mustBeSigned(plan: ImagePlan): string[] {
  const narrowed = plan.sourceIndexDigest !== undefined && isIndexMediaType(plan.root.mediaType);
  if (!narrowed) return [plan.root.digest];
  const attached = new Set(plan.attached.map((a) => a.digest as string));
  const root = plan.manifests.find((m) => m.descriptor.digest === plan.root.digest);
  if (!root) return [plan.root.digest];
  const parsed = parseManifest(root.bytes, root.descriptor.mediaType, plan.root.digest);
  if (parsed.kind !== "index") return [plan.root.digest];
  return parsed.index.manifests.map((m) => m.digest as string).filter((d) => !attached.has(d));
}

async function readPayload(plan: ImagePlan, descriptor: Descriptor, what: string): Promise<Buffer> {
  if (descriptor.size > MAX_PAYLOAD_BYTES) {
    throw new FerryError(
      "EBADIMAGE",
      `${what} is ${descriptor.size} bytes: no simple-signing payload is`,
    );
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of await plan.source.openBlob(descriptor)) {
    const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    length += piece.length;
    if (length > descriptor.size) break;
    chunks.push(piece);
  }
  const bytes = Buffer.concat(chunks);
  verifyBytes(bytes, descriptor, what);
  return bytes;
}

/** Check one image's cosign signatures against the keys. */
async function judge(plan: ImagePlan, keys: CosignKey[]): Promise<CosignVerdict> {
  const required = mustBeSigned(plan);
  const signedBy = new Set<string>();
  const rejected: string[] = [];
  const unsigned: string[] = [];
  for (const digest of required) {
    let ok = false;
    const signatures = plan.attached.filter(
      (a) => a.subject === digest && a.kind === "signature" && a.foundBy === "cosign-tag",
    );
    for (const record of signatures) {
      const manifest = plan.manifests.find((m) => m.descriptor.digest === record.digest);
      if (!manifest) continue;
      const parsed = parseManifest(manifest.bytes, manifest.descriptor.mediaType, record.digest);
      for (const layer of cosignSignatureLayers(parsed)) {
        const what = `cosign payload ${layer.payload.digest} of ${record.tag ?? record.digest}`;
        const payload = await readPayload(plan, layer.payload, what);
        const claim = signedDigestOf(payload);
        if ("problem" in claim) {
          rejected.push(`${record.tag}: ${claim.problem}`);
          continue;
        }
        if (claim.digest !== digest) {
          rejected.push(`${record.tag}: its payload names ${claim.digest}, not ${digest}`);
          continue;
        }
        const key = keys.find((k) => cosignSignatureValid(k, payload, layer.signature));
        if (!key) {
          rejected.push(`${record.tag}: a signature by none of the given keys`);
          continue;
        }
        signedBy.add(key.source);
        ok = true;
      }
    }
    if (!ok) unsigned.push(digest);
  }
  return {
    ref: plan.name,
    digest: plan.root.digest,
    signed: unsigned.length === 0,
    keys: [...signedBy],
    unsigned,
    rejected,
  };
}

/** Judge every planned image (in plan order). */
export async function checkCosign(plans: ImagePlan[], keys: CosignKey[]): Promise<CosignVerdict[]> {
  const verdicts: CosignVerdict[] = [];
  for (const plan of plans) verdicts.push(await judge(plan, keys));
  return verdicts;
}

/** The refusal for unsigned images under --require-signed (ETRUST, naming each of them). */
export function unsignedError(
  verdicts: CosignVerdict[],
  keys: CosignKey[],
  options: { nothingWritten?: boolean; reported?: boolean } = {},
): FerryError | undefined {
  const unsigned = verdicts.filter((v) => !v.signed);
  if (unsigned.length === 0) return undefined;
  const lines = unsigned.map(
    (v) =>
      `${v.ref} (${v.digest})${v.rejected.length > 0 ? `: ${v.rejected.join("; ")}` : ": no cosign signature"}`,
  );
  return new FerryError(
    "ETRUST",
    `${unsigned.length} image(s) not signed by ${keys.length === 1 ? "the cosign key" : "any of the cosign keys"} (${keys.map((k) => k.source).join(", ")}): ${lines.join("; ")}`,
    {
      hint: `${options.nothingWritten === false ? "" : "nothing was written; "}get those images signed by a trusted key (cosign sign --key) and save them again, or leave them out`,
      details: {
        unsigned: unsigned.map((v) => v.ref),
        ...(options.reported ? { reported: true } : {}),
      },
    },
  );
}

/**
 * The gate a load runs on its plans before writing anything: with --require-signed, ETRUST
 * for unsigned images; the verdicts otherwise (for the report).
 */
export async function cosignGate(
  plans: ImagePlan[],
  policy: CosignPolicy | undefined,
): Promise<CosignVerdict[] | undefined> {
  if (!policy || policy.keys.length === 0) return undefined;
  const verdicts = await checkCosign(plans, policy.keys);
  if (policy.requireSigned) {
    const refusal = unsignedError(verdicts, policy.keys);
    if (refusal) throw refusal;
  }
  return verdicts;
}

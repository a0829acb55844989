import { createPrivateKey, createPublicKey } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import { type SaveReport, saveBundle } from "../../src/ops/save.js";
import { openSource, parseSource } from "../../src/transports/table.js";
import { generateSigningKeyPair, type TrustedKey } from "../../src/trust/keys.js";
import { createLayout } from "./oci-layout.js";
import type { Rng } from "./seeded.js";

/**
 * Real bundles for the reliability suite, written in-process by ferry's own saveBundle from
 * OCI layouts of seeded bytes (so sizes, names and offsets repeat from run to run).
 */

export interface LayoutSpec {
  /** Repository, e.g. `stress.example/app`; images are tagged 1..n. */
  repository: string;
  images: number;
  /** A base layer shared by all images (bytes), and one own layer per image (bytes). */
  base: number;
  own: number;
}

export function seededLayout(dir: string, spec: LayoutSpec, rng: Rng): string[] {
  const layout = createLayout(dir);
  const base = rng.bytes(spec.base);
  const refs: string[] = [];
  for (let n = 1; n <= spec.images; n++) {
    const image = layout.image({ layers: [base, rng.bytes(spec.own)] });
    const ref = `${spec.repository}:${n}`;
    layout.tag(ref, image);
    refs.push(ref);
  }
  layout.finish();
  return refs;
}

/**
 * A seeded layout at `root/layout-NAME` (repository `stress.example/NAME`) saved to
 * `root/NAME.zip`; returns the bundle's path.
 */
export async function seededBundle(
  root: string,
  name: string,
  spec: Omit<LayoutSpec, "repository">,
  rng: Rng,
): Promise<string> {
  const layout = path.join(root, `layout-${name}`);
  seededLayout(layout, { repository: `stress.example/${name}`, ...spec }, rng);
  const bundle = path.join(root, `${name}.zip`);
  await saveLayout(layout, bundle);
  return bundle;
}

export interface Signer {
  signer: { key: ReturnType<typeof createPrivateKey>; id: string };
  trust: TrustedKey[];
  publicPem: string;
  privatePem: string;
}

export function newSigner(): Signer {
  const pair = generateSigningKeyPair();
  return {
    signer: { key: createPrivateKey(pair.privatePem), id: pair.id },
    trust: [{ id: pair.id, key: createPublicKey(pair.publicPem), source: "test key" }],
    publicPem: pair.publicPem,
    privatePem: pair.privatePem,
  };
}

/** `ferry save oci:DIR -o OUTPUT` in-process, optionally signed and/or split. */
export async function saveLayout(
  layoutDir: string,
  output: string,
  options: { signer?: Signer; partSize?: number } = {},
): Promise<SaveReport> {
  const source = await openSource(parseSource(`oci:${layoutDir}`));
  return saveBundle([{ source, platforms: "all" }], {
    output,
    tool: "ferry stress-test",
    ...(options.signer ? { signer: options.signer.signer } : {}),
    ...(options.partSize ? { split: { partSize: options.partSize, digest: "inline" } } : {}),
  });
}

/** Every file under a directory (relative paths), for "nothing new appeared" checks. */
export function listTree(dir: string): string[] {
  const found: string[] = [];
  const walk = (current: string) => {
    let names: string[];
    try {
      names = readdirSync(current);
    } catch {
      return;
    }
    for (const name of names) {
      const full = path.join(current, name);
      found.push(path.relative(dir, full));
      walk(full);
    }
  };
  walk(dir);
  return found.sort();
}

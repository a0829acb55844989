/**
 * The sequence numbers signed bundles carry (anti-rollback): each bundle a key signs gets the
 * next number of that key's counter, a file beside the private key (`KEY.sequence`). A clock
 * plays no part, so a signing machine whose clock is wrong still counts up. A loader under
 * `--trust` refuses a bundle whose number is below the highest it loaded from the key.
 */

import type { KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { FerryError, UsageError } from "../errors.js";
import { writeFileAtomic } from "../util/atomic-file.js";
import { ifExists } from "../util/if-exists.js";
import { acquireLock } from "../util/lock.js";
import { loadPrivateKey } from "./keys.js";

const SEQUENCE_SCHEMA = "ferry.sequence/v1";

interface CounterFile {
  schema: typeof SEQUENCE_SCHEMA;
  /** The key the counter belongs to (a new key at the same path starts again at 1). */
  keyId: string;
  /** The last sequence number used. */
  sequence: number;
}

/** The counter file of the private key `keyFile`. */
export function sequenceFileFor(keyFile: string): string {
  return `${keyFile}.sequence`;
}

const restartHint = (keyFile: string) =>
  `give \`ferry save --sign ${keyFile} --sequence N\` with N above every bundle this key signed; the counter restarts from N`;

/** The last number the key used (0 when it never signed here). */
async function lastSequence(file: string, keyId: string, keyFile: string): Promise<number> {
  const bytes = await ifExists(readFile(file), file);
  if (bytes === undefined) return 0;
  let doc: Partial<CounterFile> | undefined;
  try {
    doc = JSON.parse(bytes.toString("utf8")) as Partial<CounterFile>;
  } catch {
    doc = undefined;
  }
  if (
    doc?.schema !== SEQUENCE_SCHEMA ||
    typeof doc.keyId !== "string" ||
    !Number.isSafeInteger(doc.sequence) ||
    (doc.sequence as number) < 0
  ) {
    throw new FerryError("EUSAGE", `${file} is damaged: it is not a ferry sequence counter`, {
      hint: restartHint(keyFile),
    });
  }
  return doc.keyId === keyId ? (doc.sequence as number) : 0;
}

/**
 * Reserve the next sequence number of a key: `requested` (which must be above the last one
 * used) or the last plus one, written back atomically under a lock file before the bundle is
 * written. A save that fails later leaves a gap, never a number used twice.
 */
export async function reserveSequence(
  keyFile: string,
  keyId: string,
  requested?: number,
): Promise<number> {
  const file = sequenceFileFor(keyFile);
  const lock = await acquireLock(`${file}.lock`, { purpose: "reserving a sequence number" });
  try {
    const last = await lastSequence(file, keyId, keyFile);
    if (requested !== undefined && requested <= last) {
      throw new UsageError(
        `--sequence ${requested} is not above ${last}, the last sequence key ${keyId} used (${file})`,
        {
          hint: `give a number above ${last}, or leave --sequence out to use ${last + 1}`,
        },
      );
    }
    const next = requested ?? last + 1;
    const counter: CounterFile = { schema: SEQUENCE_SCHEMA, keyId, sequence: next };
    await writeFileAtomic(file, Buffer.from(`${JSON.stringify(counter)}\n`));
    return next;
  } finally {
    await lock.release();
  }
}

/** The signer of `save --sign KEY [--sequence N]`: the key, its id and this bundle's number. */
export async function loadSigner(
  keyFile: string,
  requested?: number,
): Promise<{ key: KeyObject; id: string; sequence: number }> {
  const { key, id } = await loadPrivateKey(keyFile);
  return { key, id, sequence: await reserveSequence(keyFile, id, requested) };
}

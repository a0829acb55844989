/**
 * The store's staging folders (`.ferry/tmp/<kind>.<pid>.<hex>.tmp`) and who made them: each
 * holds its maker's record (`owner.json`: pid, host, start time, boot), so a later run can tell
 * when its maker is gone and remove what it left (a killed load's staged blobs).
 */

import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../../util/atomic-file.js";
import type { FileOps } from "../../util/fs-retry.js";
import { type ProcessIdentity, processLiveness, thisProcess } from "../../util/process-liveness.js";
import { readRegularFile } from "../../util/safe-open.js";
import { tempNameOwner } from "../../util/temp-name.js";

/** A staging folder or temp file in the store's tmp/ left by a run that is provably gone. */
export interface StaleTemp {
  path: string;
  /** Bytes of the files in it (what removing it frees). */
  bytes: number;
}

/** The record a staging folder keeps of the process that made it. */
const STAGING_OWNER = "owner.json";

type Owner = Partial<ProcessIdentity> & { pid: number };

/** Write this process's record into a staging folder it just made. */
export async function recordStagingOwner(
  dir: string,
  options: { mode: number; fileOps: FileOps },
): Promise<void> {
  await writeFileAtomic(
    path.join(dir, STAGING_OWNER),
    Buffer.from(`${JSON.stringify(thisProcess())}\n`),
    options,
  );
}

/** Who made a staging folder: its owner.json, or else the pid in its name (this host). */
async function stagingOwner(dir: string, name: string, hint: string): Promise<Owner | undefined> {
  const file = path.join(dir, STAGING_OWNER);
  const recorded = await readRegularFile(file, { code: "EBADSTORE", hint }).then(
    (bytes) => JSON.parse(bytes.toString("utf8")) as Partial<ProcessIdentity>,
    () => undefined,
  );
  if (typeof recorded?.pid === "number" && typeof recorded.host === "string") {
    return recorded as ProcessIdentity;
  }
  const pid = tempNameOwner(name);
  return pid !== undefined && pid > 0 ? { pid } : undefined;
}

/**
 * Staging folders and temp files in `tmpDir` whose maker is provably gone (no such process, a
 * reused pid, a reboot; a process of another host sharing the store counts as running), with
 * the bytes each holds. `hint` is what to do with a link planted where a record should be.
 */
export async function findStaleTemp(tmpDir: string, hint: string): Promise<StaleTemp[]> {
  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch {
    return [];
  }
  const stale: StaleTemp[] = [];
  for (const name of names.sort()) {
    const full = path.join(tmpDir, name);
    const info = await lstat(full).catch(() => undefined);
    if (!info) continue;
    let owner: Owner | undefined;
    if (info.isDirectory()) owner = await stagingOwner(full, name, hint);
    else {
      const pid = tempNameOwner(name);
      owner = pid !== undefined && pid > 0 ? { pid } : undefined;
    }
    // A name no ferry run made has no live owner either (tmp/ is ferry's, private).
    if (!owner || processLiveness(owner) === "gone") {
      stale.push({ path: full, bytes: await bytesUnder(full) });
    }
  }
  return stale;
}

/** Bytes of the regular files at or under `target` (links not followed). */
async function bytesUnder(target: string): Promise<number> {
  const info = await lstat(target).catch(() => undefined);
  if (!info) return 0;
  if (info.isFile()) return info.size;
  if (!info.isDirectory()) return 0;
  let total = 0;
  for (const name of await readdir(target).catch(() => [] as string[])) {
    total += await bytesUnder(path.join(target, name));
  }
  return total;
}

/**
 * `ferry wim extract REF DIR [--index N]`: apply one image of an installed OS image's WIM to a
 * folder with `wimlib-imagex apply` (Debian/Ubuntu `wimtools`). ferry does not decompress WIMs
 * itself; without wimlib it says how to get it (or, on Windows, the DISM command to run).
 *
 * The WIM is hard-linked into the store's tmp/ under the store lock, so a concurrent `rmi`
 * cannot pull it away while wimlib reads it, and the lock is not held for the whole extract.
 */

import { spawn } from "node:child_process";
import { link, mkdir, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { FerryError, NotFoundError, UsageError } from "../errors.js";
import { Store } from "../transports/layout/store.js";
import { displayName, readStoreEntries, resolveStoreRef } from "./wim-refs.js";

export interface ExtractOptions {
  /** 1-based image index (default 1, the container base; 2 is the Hyper-V utility VM). */
  index?: number;
  /** The wimlib command (default `wimlib-imagex`; for tests). */
  wimlib?: string;
  /** Environment for wimlib (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** wimlib's warnings on an apply that succeeded, one line each (as wimlib wrote them). */
  onWarning?: (line: string) => void;
}

export interface ExtractReport {
  ref: string;
  fullName: string;
  version: string;
  index: number;
  imageName: string;
  target: string;
  seconds: number;
  /** What wimlib warned about while applying (its stderr lines); empty when nothing. */
  warnings: string[];
}

export const WIMLIB_HINT =
  "install wimlib: `apt-get install wimtools` (Debian/Ubuntu), `dnf install wimlib-utils` (Fedora), `brew install wimlib` (macOS); on Windows, DISM does the same job: dism /Apply-Image /ImageFile:<wim> /Index:<n> /ApplyDir:<dir>";

/** Make sure `target` is a new or empty folder; true when it was created here. */
async function checkTarget(target: string): Promise<boolean> {
  const info = await stat(target).catch(() => undefined);
  if (!info) {
    await mkdir(target, { recursive: true });
    return true;
  }
  if (!info.isDirectory()) throw new UsageError(`${target} exists and is not a folder`);
  if ((await readdir(target)).length > 0) {
    throw new UsageError(`${target} is not empty`, {
      hint: "extract into a new or empty folder",
    });
  }
  return false;
}

/** After a failed apply: no partial tree left behind (the folder itself too when made here). */
async function removePartial(target: string, created: boolean): Promise<void> {
  if (created) {
    await rm(target, { recursive: true, force: true });
    return;
  }
  for (const name of await readdir(target).catch(() => [])) {
    await rm(path.join(target, name), { recursive: true, force: true });
  }
}

/** wimlib failed: say why in ferry's words, naming the WIM, with wimlib's own lines. */
function applyFailed(what: string, code: number | null, stderr: string): FerryError {
  const said = stderr.trim() ? `; wimlib says:\n${stderr.trim()}` : "";
  if (/no space left/i.test(stderr)) {
    return new FerryError("ENOSPC", `applying ${what}: no space left on the target${said}`, {
      hint: "free space on the target folder's disk, or extract elsewhere",
    });
  }
  if (/permission denied|read-only file ?system|operation not permitted/i.test(stderr)) {
    return new FerryError("EIO", `applying ${what}: the target cannot be written${said}`, {
      hint: "extract into a folder you can write to",
    });
  }
  return new FerryError(
    "EBADWIM",
    `${what} could not be applied: wimlib-imagex exited ${code} (the WIM's data is damaged or not what wimlib reads)${said}`,
    {
      hint: "`ferry check` verifies every blob's sha256 in the store (--repair sets a damaged one aside); then load the bundle holding this OS image again",
    },
  );
}

function runWimlib(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv | undefined,
  hint: string,
  what: string,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: env ?? process.env,
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") {
        reject(
          new FerryError(
            "EUNSUPPORTED",
            `${command} is not on PATH: ferry uses it to apply WIM images`,
            {
              hint,
            },
          ),
        );
      } else
        reject(new FerryError("EIO", `running ${command}: ${error.message}`, { cause: error }));
    });
    child.on("close", (code) => {
      if (code === 0) {
        resolve(
          stderr
            .split(/\r?\n/)
            .map((line) => line.trimEnd())
            .filter((line) => line.length > 0),
        );
      } else reject(applyFailed(what, code, stderr));
    });
  });
}

/** Apply image `index` of an installed OS image to `targetDir`. */
export async function extractOsImage(
  storeDir: string,
  ref: string,
  targetDir: string,
  options: ExtractOptions = {},
): Promise<ExtractReport> {
  const started = Date.now();
  const imageIndex = options.index ?? 1;
  const store = await Store.open(storeDir);
  const target = path.resolve(targetDir);
  const staging = await store.createStagingDir("extract");
  try {
    const wimFile = path.join(staging, "image.wim");
    const { facts, name } = await store.withLock("extracting an OS image", async () => {
      const index = await store.readIndex();
      const entries = await readStoreEntries(store, index);
      const entry = resolveStoreRef(entries, ref, store.dir).entries[0];
      if (!entry?.os) {
        throw new UsageError(`${ref} is a container image, not a Windows base OS image`, {
          hint: "`ferry images --os` lists the OS images",
        });
      }
      const name = displayName(entry.ref);
      const blob = store.blobFile(entry.os.wim.digest);
      if (!(await store.hasBlob(entry.os.wim))) {
        throw new NotFoundError(
          `the WIM of ${name} (${entry.os.wim.digest}) is missing from the store`,
          {
            hint: "load the bundle again; `ferry check` reports other damage",
          },
        );
      }
      // Without hard links (some network shares) wimlib reads the blob in place.
      await link(blob, wimFile).catch(() => undefined);
      return { facts: entry.os, name };
    });
    if (!Number.isInteger(imageIndex) || imageIndex < 1 || imageIndex > facts.imageCount) {
      throw new UsageError(
        `${name} holds ${facts.imageCount} image(s); --index ${imageIndex} is not one of them`,
        { hint: facts.imageNames.map((n, i) => `${i + 1}: ${n}`).join(", ") },
      );
    }
    const source = (await stat(wimFile).catch(() => undefined))
      ? wimFile
      : store.blobFile(facts.wim.digest);
    const created = await checkTarget(target);
    const warnings = await runWimlib(
      options.wimlib ?? "wimlib-imagex",
      ["apply", source, String(imageIndex), target],
      options.env,
      WIMLIB_HINT.replace("<wim>", store.blobFile(facts.wim.digest))
        .replace("<n>", String(imageIndex))
        .replace("<dir>", target),
      `image ${imageIndex} of the WIM of ${name} (${facts.wim.digest})`,
    ).catch(async (error: unknown) => {
      await removePartial(target, created);
      // wimlib names the staging link, removed below: show the store's file instead.
      if (error instanceof FerryError && source !== store.blobFile(facts.wim.digest)) {
        throw new FerryError(
          error.code,
          error.message.replaceAll(source, store.blobFile(facts.wim.digest)),
          { ...(error.hint ? { hint: error.hint } : {}), cause: error },
        );
      }
      throw error;
    });
    for (const line of warnings) options.onWarning?.(line);
    return {
      ref: name,
      fullName: facts.fullName,
      version: facts.version,
      index: imageIndex,
      imageName: facts.imageNames[imageIndex - 1] ?? "",
      target,
      seconds: (Date.now() - started) / 1000,
      warnings,
    };
  } finally {
    await store.removeStagingDir(staging);
  }
}

import { createWriteStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import path from "node:path";
import { fromSystemError } from "../../errors.js";
import { syncDirectory } from "../../util/atomic-file.js";
import { fileOps } from "../../util/fs-retry.js";
import { trackRunTemp } from "../../util/run-temps.js";
import { uniqueTempName } from "../../util/temp-name.js";
import type { TarOutput } from "./layout-tar-sink.js";

/** A tar file that appears under its name only when complete (a temp file, synced, renamed). */
export async function tarFileOutput(target: string): Promise<TarOutput> {
  const tempPath = uniqueTempName(target);
  const stream = createWriteStream(tempPath, { flags: "wx", mode: 0o644 });
  await new Promise<void>((resolve, reject) => {
    stream.once("open", () => resolve());
    stream.once("error", (error) => reject(fromSystemError(error, target, "creating")));
  });
  // Listed for a Ctrl-C that stops ferry at once (see util/run-temps.ts).
  const untrack = trackRunTemp(tempPath);
  return {
    stream,
    async complete() {
      try {
        const handle = await open(tempPath, "r+");
        try {
          await handle.datasync();
        } finally {
          await handle.close();
        }
        // Retried on Windows while a scanner holds the new file (see util/fs-retry.ts).
        await fileOps.rename(tempPath, target);
        untrack();
      } catch (error) {
        throw fromSystemError(error, target, "writing");
      }
      await syncDirectory(path.dirname(target));
    },
    async discard() {
      stream.destroy();
      await rm(tempPath, { force: true }).catch(() => {});
      untrack();
    },
    explain: async (error) => fromSystemError(error, target, "writing"),
  };
}

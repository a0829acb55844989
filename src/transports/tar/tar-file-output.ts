import { createWriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fromSystemError } from "../../errors.js";
import { syncDirectory } from "../../util/atomic-file.js";
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
        await rename(tempPath, target);
      } catch (error) {
        throw fromSystemError(error, target, "writing");
      }
      await syncDirectory(path.dirname(target));
    },
    async discard() {
      stream.destroy();
      await rm(tempPath, { force: true }).catch(() => {});
    },
    explain: async (error) => fromSystemError(error, target, "writing"),
  };
}

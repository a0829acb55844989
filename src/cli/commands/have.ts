import type { Command } from "commander";
import { haveList } from "../../ops/have.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { toolName } from "../context.js";
import { createOutput } from "../output.js";
import { resolveStoreDir } from "../store-location.js";

export function registerHave(program: Command): void {
  program
    .command("have")
    .description("write what the store holds (for `ferry save --since` on the connected side)")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .requiredOption("-o, --output <have.json>", "where to write the list")
    .option("--json", "print a JSON summary")
    .action(async (flags: { store?: string; output: string; json?: boolean }) => {
      const out = createOutput(flags);
      const list = await haveList(resolveStoreDir(flags.store), toolName());
      await writeFileAtomic(flags.output, Buffer.from(`${JSON.stringify(list, null, 2)}\n`));
      out.result(
        {
          output: flags.output,
          storeId: list.storeId,
          blobs: list.blobs.length,
          images: list.images.length,
        },
        () =>
          `wrote ${flags.output}: ${list.images.length} image name(s), ${list.blobs.length} blobs of store ${list.storeId}`,
      );
    });
}

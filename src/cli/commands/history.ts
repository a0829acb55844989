import type { Command } from "commander";
import { imageHistory } from "../../ops/image-info.js";
import { hostPlatform } from "../../ops/registry-options.js";
import { shortDigest } from "../../types/digest.js";
import { collect, platformSelector } from "../context.js";
import { createOutput, formatAge, formatSize, formatTable } from "../output.js";
import { resolveStoreDir } from "../store-location.js";

export function registerHistory(program: Command): void {
  program
    .command("history")
    .description("show a stored image's layers and how they were made (like docker history)")
    .argument("<ref>", "an image name in the store")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "for multi-platform images (default: this machine's)",
      collect,
    )
    .option("--no-trunc", "do not shorten digests and commands")
    .option("--json", "print JSON")
    .action(
      async (
        ref: string,
        flags: { store?: string; platform?: string[]; trunc?: boolean; json?: boolean },
      ) => {
        const out = createOutput(flags);
        const history = await imageHistory(
          resolveStoreDir(flags.store),
          ref,
          platformSelector(flags.platform, [hostPlatform()]),
        );
        const trunc = flags.trunc !== false;
        out.result(history, () =>
          formatTable(
            ["LAYER", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            history.rows.map((row) => [
              row.layer ? (trunc ? shortDigest(row.layer) : row.layer) : "<missing>",
              formatAge(row.created),
              trunc && row.createdBy.length > 45 ? `${row.createdBy.slice(0, 44)}…` : row.createdBy,
              formatSize(row.size),
              row.comment ?? "",
            ]),
          ),
        );
      },
    );
}

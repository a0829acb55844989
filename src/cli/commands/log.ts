import type { Command } from "commander";
import { readLoadLog } from "../../ops/image-info.js";
import { createOutput, formatTable } from "../output.js";
import { resolveStoreDir } from "../store-location.js";

export function registerLog(program: Command): void {
  program
    .command("log")
    .description("what was loaded into the store: which bundle, when, which images")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("--json", "print JSON")
    .action(async (flags: { store?: string; json?: boolean }) => {
      const out = createOutput(flags);
      const entries = await readLoadLog(resolveStoreDir(flags.store));
      out.result(entries, () =>
        formatTable(
          ["TIME", "ACTION", "BUNDLE", "IMAGES"],
          entries.map((e) => [
            e.time,
            e.action,
            e.bundle ?? "-",
            (e.images ?? []).map((i) => i.name).join(", ") || "-",
          ]),
        ),
      );
    });
}

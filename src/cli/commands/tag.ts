import type { Command } from "commander";
import { displayName, tagImage } from "../../ops/wim-refs.js";
import { createOutput } from "../output.js";
import { resolveStoreDir } from "../store-location.js";

export function registerTag(program: Command): void {
  program
    .command("tag")
    .description("give an image in the store another name (like docker tag)")
    .argument(
      "<source>",
      "an image in the store: alpine:3.19, nanoserver:10.0.14300.1010, sha256:...",
    )
    .argument("<target>", "the new name; for an OS image, name:tag stays among OS images")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("--json", "print JSON")
    .action(async (source: string, target: string, flags: { store?: string; json?: boolean }) => {
      const out = createOutput(flags);
      const report = await tagImage(resolveStoreDir(flags.store), source, target);
      out.result(report, () => {
        const moved = report.previous ? ` (moved from ${report.previous.slice(0, 19)})` : "";
        return `Tagged ${displayName(report.target)} -> ${displayName(report.source)} ${report.digest}${moved}`;
      });
    });
}

import type { Command } from "commander";
import { copyDestinationKinds, destinationForms, listForms } from "../../transports/table.js";
import { collect, storeOption } from "../context.js";

export interface ExportFlags {
  to?: string;
  output?: string;
  store?: string;
  platform?: string[];
  json?: boolean;
  quiet?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("write stored images as a tarball `docker load` accepts (Docker 25+ layout)")
    .argument("<ref...>", "image names in the store")
    .option(
      "--to <destination>",
      `where to write them: ${listForms(destinationForms(copyDestinationKinds()))} (appears only when complete)`,
    )
    .option("-o, --output <images.tar>", "same as --to docker-archive:IMAGES.tar")
    .addOption(storeOption())
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "for multi-platform images: the one docker gets (default: this machine's)",
      collect,
    )
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress")
    .action(async (refs: string[], flags: ExportFlags) => {
      const { runExport } = await import("./export.run.js");
      await runExport(refs, flags);
    });
}

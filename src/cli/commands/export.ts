import type { Command } from "commander";
import {
  copyDestinationKinds,
  destinationForms,
  destinationOptions,
  listForms,
} from "../../transports/table.js";
import { addTransportOptions, collect, storeOption } from "../context.js";

export interface ExportFlags {
  to?: string;
  output?: string;
  store?: string;
  platform?: string[];
  json?: boolean;
  quiet?: boolean;
}

export function registerExport(program: Command): void {
  const command = program
    .command("export")
    .description(
      "copy stored images to a tarball `docker load` accepts (Docker 25+ layout), a Docker engine or containerd",
    )
    .argument("<ref...>", "image names in the store")
    .option(
      "--to <destination>",
      `where to write them: ${listForms(destinationForms(copyDestinationKinds()))} (appears only when complete)`,
    )
    .option("-o, --output <images.tar>", "same as --to docker-archive:IMAGES.tar")
    .addOption(storeOption())
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "for multi-platform images: the one docker gets (default: the engine's with --to docker, this machine's for a tarball); with --to containerd: the platforms kept (default: all)",
      collect,
    );
  addTransportOptions(command, destinationOptions(copyDestinationKinds()))
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress")
    .action(async (refs: string[], flags: ExportFlags) => {
      const { runExport } = await import("./export.run.js");
      await runExport(refs, flags);
    });
}

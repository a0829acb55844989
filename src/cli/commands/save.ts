import type { Command } from "commander";
import type { RegistryFlags } from "../../ops/registry-options.js";
import { listForms, sourceForms, sourceOptions } from "../../transports/table.js";
import { parseSplitSize } from "../../types/parts.js";
import { addTransportOptions, collect, positiveInteger } from "../context.js";
import { type AttachedFlags, addAttachedOptions, addRegistryOptions } from "./pull.js";

export interface SaveFlags extends RegistryFlags, AttachedFlags {
  skipForeign?: boolean;
  output?: string;
  platform?: string[];
  jobs?: number;
  json?: boolean;
  quiet?: boolean;
  sha256?: string[];
  since?: string;
  sign?: string;
  sequence?: number;
  file?: string;
  split?: number;
  parity?: boolean;
}

export function registerSave(program: Command): void {
  const command = program
    .command("save")
    .description("save images into one checksummed bundle (a zip holding an OCI layout)")
    .argument("[source...]", listForms(sourceForms()))
    .requiredOption("-o, --output <bundle.zip>", "the bundle to write (appears only when complete)")
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "platform(s) to keep, repeatable, or 'all' (default: all; this machine's for registry images)",
      collect,
    )
    .option("-j, --jobs <n>", "blob transfers at once", positiveInteger)
    .option("--sha256 <hex>", "expected sha256 of each .wim source, in order (repeatable)", collect)
    .option("-f, --file <images.yaml>", "read sources (and per-image platforms) from an image list")
    .option("--since <have.json|OLD.zip>", "a delta: leave out layers the offline side has")
    .option("--sign <key>", "sign ferry.json with this private key (ferry keygen)")
    .option(
      "--sequence <n>",
      "with --sign: this bundle's sequence number (default: one above the last, from KEY.sequence beside the key)",
      positiveInteger,
    )
    .option(
      "--split <SIZE|fat32>",
      "write parts BUNDLE.001, .002, ... of SIZE bytes (700M, 4G, 1.5G; binary units) plus BUNDLE.parts; fat32 = 4 GiB - 1 byte, the largest FAT32 file (4G is one byte too big)",
      parseSplitSize,
    )
    .option(
      "--parity",
      "with --split: also write BUNDLE.parity, from which any one lost or damaged part can be rebuilt (ferry repair)",
    )
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress or notes")
    .option(
      "--skip-foreign",
      "leave foreign layers out (listed as required): the far side must have them",
    );
  addTransportOptions(command, sourceOptions());
  addAttachedOptions(command);
  addRegistryOptions(command, { downloads: true }).action(
    async (specs: string[], flags: SaveFlags) => {
      const { runSave } = await import("./save.run.js");
      await runSave(specs, flags);
    },
  );
}

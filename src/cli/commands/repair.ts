import path from "node:path";
import type { Command } from "commander";
import type { SplitReport } from "../../ops/open-bundle.js";
import { FAT32_MAX_FILE, type PartsManifest } from "../../types/parts.js";

export interface RepairFlags {
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

/** A part size as `--split` takes it: `700 MiB`, `1.5 GiB`, `4 GiB - 1 byte (fat32)`. */
export function formatPartSize(bytes: number): string {
  if (bytes === FAT32_MAX_FILE) return "4 GiB - 1 byte (fat32)";
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (unit < units.length - 1 && bytes >= 1024 ** (unit + 1)) unit++;
  const value = bytes / 1024 ** unit;
  return `${Number.isInteger(value) ? value : value.toFixed(2)} ${units[unit]}`;
}

/**
 * Summary lines for a split save: the parts, the `.parts` file, the parity volume, the
 * signature of `.parts`, and every file (`files`, as the save reports them) that must travel.
 */
export function partsLines(parts: PartsManifest, bundle: string, files: string[]): string[] {
  const dir = path.dirname(bundle);
  const partsFile = path.join(dir, `${parts.bundle}.parts`);
  const first = parts.parts[0]?.name ?? "";
  const last = parts.parts[parts.parts.length - 1]?.name ?? "";
  const lines = [
    `split into ${parts.parts.length} part(s) of at most ${formatPartSize(parts.partSize)}: ${parts.parts.length > 1 ? `${first} ... ${last}` : first}, listed with their sha256s in ${partsFile}`,
  ];
  if (parts.parity) {
    lines.push(
      `parity: ${parts.parity.name} (${formatPartSize(parts.parity.size)}) rebuilds any one lost or damaged part: ferry repair ${partsFile}`,
    );
  }
  const signature = files.find((file) => file === `${partsFile}.sig`);
  if (signature) {
    lines.push(
      `signature of the .parts file: ${signature} (load and verify with --trust refuse the parts without it)`,
    );
  }
  lines.push(
    `copy all ${files.length} file(s) into one folder; load and verify read the parts in place:`,
    ...files.map((file) => `  ${path.basename(file)}`),
  );
  return lines;
}

/** Lines verify prints about split volumes (each bad part by name, and whether repair helps). */
export function splitLines(split: SplitReport): string[] {
  const lines = split.notes.map((note) => `NOTE ${note}`);
  if (split.repair && !split.partsOk) {
    lines.push(
      split.repair.possible
        ? `REPAIRABLE: ${split.repair.reason}: run \`${split.repair.command}\` (add --out DIR if that folder is read-only)`
        : `NOT REPAIRABLE: ${split.repair.reason}`,
    );
  }
  return lines;
}

export function registerRepair(program: Command): void {
  program
    .command("repair")
    .description(
      "rebuild one missing or damaged part of a split bundle from its parity volume (save --split --parity)",
    )
    .argument("<bundle.parts>", "the bundle's .parts file (or any of its parts)")
    .option(
      "--out <dir>",
      "write the rebuilt part here (default: beside the parts; use when their folder is read-only)",
    )
    .option("--json", "print a JSON report")
    .option("-q, --quiet", "no notes")
    .action(async (input: string, flags: RepairFlags) => {
      const { runRepair } = await import("./repair.run.js");
      await runRepair(input, flags);
    });
}

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { storeOption } from "../context.js";
import type { WimSearchFlags } from "./search-wim.js";

function imageIndex(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--index ${value} is not an image number (1, 2, ...)`);
  return n;
}

export interface WimInfoFlags {
  json?: boolean;
}

export interface WimExtractFlags {
  index?: number;
  store?: string;
  json?: boolean;
}

/** `ferry wim info|search|extract`: Windows base OS image (.wim) tools. */
export function registerWim(program: Command): void {
  const wim = program
    .command("wim")
    .description(
      "Windows base OS images (.wim): look into files and folders, extract installed ones",
    );

  wim
    .command("info")
    .description("show what a .wim file says about itself (header and XML; bytes are not verified)")
    .argument("<file>", "a .wim file")
    .option("--json", "print JSON")
    .action(async (file: string, flags: WimInfoFlags) => {
      const { runWimInfo } = await import("./wim.run.js");
      await runWimInfo(file, flags);
    });

  wim
    .command("search")
    .description(
      "list the .wim files of a folder or file share (name, version, architecture, size)",
    )
    .argument("<dir>", "the folder")
    .option("-r, --recursive", "also look in sub-folders")
    .option("--json", "print JSON")
    .action(async (dir: string, flags: WimSearchFlags) => {
      const { runWimSearch } = await import("./search-wim.js");
      await runWimSearch(dir, flags);
    });

  wim
    .command("extract")
    .description("apply an installed OS image to a folder with wimlib-imagex (from wimtools)")
    .argument("<ref>", "nanoserver:10.0.14300.1010, windowsservercore:latest or CN=Microsoft_...")
    .argument("<dir>", "a new or empty folder")
    .option("--index <n>", "the WIM image to apply (1: container base, 2: utility VM)", imageIndex)
    .addOption(storeOption())
    .option("--json", "print JSON")
    .action(async (ref: string, dir: string, flags: WimExtractFlags) => {
      const { runWimExtract } = await import("./wim.run.js");
      await runWimExtract(ref, dir, flags);
    });
}

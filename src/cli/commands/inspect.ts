import type { Command } from "commander";

export interface InspectFlags {
  json?: boolean;
  store?: string;
}

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description(
      "describe a bundle (images, platforms, sizes, digests) without reading blob bytes, or a stored image (manifest and config)",
    )
    .argument(
      "<bundle|ref>",
      "a bundle file (or a split bundle's .parts file), or an image name in the store",
    )
    .option(
      "--store <dir>",
      "for an image name: the store (default: $FERRY_STORE or the per-OS default)",
    )
    .option("--json", "print JSON")
    .action(async (bundle: string, flags: InspectFlags) => {
      const { runInspect } = await import("./inspect.run.js");
      await runInspect(bundle, flags);
    });
}

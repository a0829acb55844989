import type { Command } from "commander";
import { storeOption } from "../context.js";

export interface RmiFlags {
  store?: string;
  force?: boolean;
  prune?: boolean;
  json?: boolean;
}

export function registerRmi(program: Command): void {
  program
    .command("rmi")
    .description(
      "remove images from the store (like docker rmi); OS images by name:version or CN=Microsoft_<Name>_<Version>",
    )
    .argument(
      "<image...>",
      "alpine:3.19, nanoserver:10.0.14300.1010, CN=Microsoft_NanoServer_10.0.14300.1010, sha256:...",
    )
    .option("-f, --force", "remove OS images even while container images are built on them")
    .option("--no-prune", "keep the blobs nothing names anymore (ferry gc reclaims them later)")
    .addOption(storeOption())
    .option("--json", "print JSON")
    .action(async (images: string[], flags: RmiFlags) => {
      const { runRmi } = await import("./rmi.run.js");
      await runRmi(images, flags);
    });
}

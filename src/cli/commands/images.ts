import type { Command } from "commander";
import { storeOption } from "../context.js";

export interface ImagesFlags {
  store?: string;
  json?: boolean;
  digests?: boolean;
  os?: boolean;
}

export function registerImages(program: Command): void {
  program
    .command("images")
    .description("list the images in the local store (like docker images)")
    .addOption(storeOption())
    .option("--digests", "show full digests")
    .option("--os", "only Windows base OS images (with version and full name)")
    .option("--json", "print JSON")
    .action(async (flags: ImagesFlags) => {
      const { runImages } = await import("./images.run.js");
      await runImages(flags);
    });
}

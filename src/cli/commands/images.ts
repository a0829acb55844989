import type { Command } from "commander";
import { listImages } from "../../ops/images.js";
import { shortDigest } from "../../types/digest.js";
import { createOutput, formatAge, formatSize, formatTable } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import { osImagesTable } from "./wim.js";

export function registerImages(program: Command): void {
  program
    .command("images")
    .description("list the images in the local store (like docker images)")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("--digests", "show full digests")
    .option("--os", "only Windows base OS images (with version and full name)")
    .option("--json", "print JSON")
    .action(async (flags: { store?: string; json?: boolean; digests?: boolean; os?: boolean }) => {
      const out = createOutput(flags);
      const images = await listImages(resolveStoreDir(flags.store), { osOnly: Boolean(flags.os) });
      const osTable = osImagesTable(images, Boolean(flags.digests));
      out.result(images, () =>
        flags.os
          ? osTable || "no Windows base OS images in the store"
          : [
              formatTable(
                ["REPOSITORY", "TAG", "DIGEST", "PLATFORMS", "SIZE", "CREATED"],
                images.map((i) => [
                  i.repository,
                  i.tag,
                  flags.digests ? i.digest : shortDigest(i.digest),
                  i.error ? `DAMAGED: ${i.error}` : i.platforms.join(",") || "-",
                  formatSize(i.size),
                  formatAge(i.created),
                ]),
              ),
              ...(osTable && !flags.os ? ["", osTable] : []),
            ].join("\n"),
      );
    });
}

import { listImages } from "../../ops/images.js";
import { checkStoreToRead } from "../../ops/store-to-read.js";
import { summarizeAttached } from "../../types/attached.js";
import { shortDigest } from "../../types/digest.js";
import { createOutput, formatAge, formatSize, formatTable } from "../output.js";
import { resolveStoreDir, storeChosenBy } from "../store-location.js";
import type { ImagesFlags } from "./images.js";
import { osImagesTable } from "./os-image-lines.js";

/** `ferry images` (loaded when the command runs: see ./images.ts). */
export async function runImages(flags: ImagesFlags): Promise<void> {
  const out = createOutput(flags);
  const storeDir = resolveStoreDir(flags.store);
  const exists = await checkStoreToRead(storeDir, storeChosenBy(flags.store));
  const listed = await listImages(storeDir, { osOnly: Boolean(flags.os) });
  // Which store was read: in --json on every entry, for humans a header line on stderr (stdout
  // stays the table alone, for scripts).
  const images = listed.map((image) => ({ ...image, store: storeDir }));
  out.note(`store: ${storeDir}${exists ? "" : " (not created yet: nothing loaded)"}`);
  const osTable = osImagesTable(images, Boolean(flags.digests));
  const anyAttached = images.some((i) => i.attached);
  out.result(images, () =>
    flags.os
      ? osTable || "no Windows base OS images in the store"
      : [
          formatTable(
            [
              "REPOSITORY",
              "TAG",
              "DIGEST",
              "PLATFORMS",
              "SIZE",
              "CREATED",
              ...(anyAttached ? ["ATTACHED"] : []),
            ],
            images.map((i) => [
              i.repository,
              i.tag,
              flags.digests ? i.digest : shortDigest(i.digest),
              i.error
                ? `DAMAGED: ${i.error}`
                : i.platforms.join(",") || (i.artifactType ? "(artifact)" : "-"),
              formatSize(i.size),
              formatAge(i.created),
              ...(anyAttached ? [summarizeAttached(i.attached) || "-"] : []),
            ]),
          ),
          ...(osTable && !flags.os ? ["", osTable] : []),
        ].join("\n"),
  );
}

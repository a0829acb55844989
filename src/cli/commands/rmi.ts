import type { Command } from "commander";
import { removeImages } from "../../ops/rmi.js";
import { displayName } from "../../ops/wim-refs.js";
import { shortDigest } from "../../types/digest.js";
import { createOutput, formatSize } from "../output.js";
import { resolveStoreDir } from "../store-location.js";

interface RmiFlags {
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
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("--json", "print JSON")
    .action(async (images: string[], flags: RmiFlags) => {
      const out = createOutput(flags);
      const report = await removeImages(resolveStoreDir(flags.store), images, {
        force: Boolean(flags.force),
        prune: flags.prune !== false,
      });
      out.result(report, () => {
        const lines: string[] = [];
        for (const u of report.untagged) lines.push(`Untagged: ${displayName(u.ref)}`);
        for (const d of report.deleted) {
          const what = d.kind === "os-image" ? `OS image ${d.fullName}` : "image";
          lines.push(`Deleted: ${d.digest} (${what})`);
        }
        for (const m of report.latestMoved) {
          // a latest with no version left is among the untagged names already
          if (m.to) lines.push(`Moved: ${displayName(m.ref)} -> ${m.version ?? shortDigest(m.to)}`);
        }
        for (const d of report.forcedDependants) {
          lines.push(
            `Warning: ${displayName(d.ref)} was built on ${displayName(d.base)} (${d.reason})`,
          );
        }
        if (report.gc) {
          lines.push(
            `Reclaimed ${report.gc.blobsRemoved} blob(s), ${formatSize(report.gc.bytesFreed)}`,
          );
        } else if (report.gcError) {
          lines.push(`Blobs not reclaimed: ${report.gcError}`);
        }
        return lines.join("\n");
      });
    });
}

import { removeImages } from "../../ops/rmi.js";
import { displayName } from "../../ops/wim-refs.js";
import { shortDigest } from "../../types/digest.js";
import { createOutput, escapeControls, formatSize } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import type { RmiFlags } from "./rmi.js";

/** `ferry rmi IMAGE...` (loaded when the command runs: see ./rmi.ts). */
export async function runRmi(images: string[], flags: RmiFlags): Promise<void> {
  const out = createOutput(flags);
  const report = await removeImages(resolveStoreDir(flags.store), images, {
    force: Boolean(flags.force),
    prune: flags.prune !== false,
  });
  out.result(report, () => {
    const lines: string[] = [];
    for (const u of report.untagged) lines.push(`Untagged: ${escapeControls(displayName(u.ref))}`);
    for (const d of report.deleted) {
      const what =
        d.kind === "os-image" ? `OS image ${escapeControls(d.fullName ?? "?")}` : "image";
      lines.push(`Deleted: ${d.digest} (${what})`);
    }
    for (const m of report.latestMoved) {
      // a latest with no version left is among the untagged names already
      if (m.to) {
        const to = m.version ?? shortDigest(m.to);
        lines.push(`Moved: ${escapeControls(displayName(m.ref))} -> ${escapeControls(to)}`);
      }
    }
    for (const d of report.forcedDependants) {
      lines.push(
        `Warning: ${escapeControls(displayName(d.ref))} was built on ${escapeControls(displayName(d.base))} (${escapeControls(d.reason)})`,
      );
    }
    if (report.gc) {
      lines.push(
        `Reclaimed ${report.gc.blobsRemoved} blob(s), ${formatSize(report.gc.bytesFreed)}`,
      );
    } else if (report.gcError) {
      lines.push(`Blobs not reclaimed: ${escapeControls(report.gcError)}`);
    }
    return lines.join("\n");
  });
}

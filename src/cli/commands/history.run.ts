import { imageHistory } from "../../ops/image-info.js";
import { hostPlatform } from "../../ops/registry-options.js";
import { shortDigest } from "../../types/digest.js";
import { platformSelector } from "../context.js";
import { createOutput, formatAge, formatSize, formatTable } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import type { HistoryFlags } from "./history.js";

/** `ferry history REF` (loaded when the command runs: see ./history.ts). */
export async function runHistory(ref: string, flags: HistoryFlags): Promise<void> {
  const out = createOutput(flags);
  const history = await imageHistory(
    resolveStoreDir(flags.store),
    ref,
    platformSelector(flags.platform, [hostPlatform()]),
  );
  const trunc = flags.trunc !== false;
  out.result(history, () =>
    formatTable(
      ["LAYER", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
      history.rows.map((row) => [
        row.layer ? (trunc ? shortDigest(row.layer) : row.layer) : "<missing>",
        formatAge(row.created),
        trunc && row.createdBy.length > 45 ? `${row.createdBy.slice(0, 44)}…` : row.createdBy,
        formatSize(row.size),
        row.comment ?? "",
      ]),
    ),
  );
}

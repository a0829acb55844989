import { readLoadLog } from "../../ops/image-info.js";
import { createOutput, formatTable } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import type { LogFlags } from "./log.js";

/** `ferry log` (loaded when the command runs: see ./log.ts). */
export async function runLog(flags: LogFlags): Promise<void> {
  const out = createOutput(flags);
  const entries = await readLoadLog(resolveStoreDir(flags.store));
  out.result(entries, () =>
    formatTable(
      ["TIME", "ACTION", "BUNDLE", "IMAGES"],
      entries.map((e) => [
        e.time,
        e.action,
        e.bundle ?? "-",
        (e.images ?? []).map((i) => i.name).join(", ") || "-",
      ]),
    ),
  );
}

import { displayName, tagImage } from "../../ops/wim-refs.js";
import { createOutput, escapeControls } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import type { TagFlags } from "./tag.js";

/** `ferry tag SOURCE TARGET` (loaded when the command runs: see ./tag.ts). */
export async function runTag(source: string, target: string, flags: TagFlags): Promise<void> {
  const out = createOutput(flags);
  const report = await tagImage(resolveStoreDir(flags.store), source, target);
  out.result(report, () => {
    const moved = report.previous ? ` (moved from ${report.previous.slice(0, 19)})` : "";
    return `Tagged ${escapeControls(displayName(report.target))} -> ${escapeControls(displayName(report.source))} ${report.digest}${moved}`;
  });
}

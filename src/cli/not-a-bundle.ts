import { open } from "node:fs/promises";
import nodePath from "node:path";
import { UsageError } from "../errors.js";
import { escapeControls } from "../types/terminal-text.js";

/** The first 8 bytes of every WIM and split part (as in transports/wim/header.ts). */
const WIM_MAGIC = Buffer.from("MSWIM\0\0\0", "latin1");

/** wimlib's pipable WIMs start with this instead of `MSWIM`. */
const PIPABLE_WIM_MAGIC = Buffer.from("WLPWM\0\0\0", "latin1");

/** The first bytes of `file`, or undefined when it cannot be read (the caller reports that). */
async function firstBytes(file: string, count: number): Promise<Buffer | undefined> {
  const handle = await open(file, "r").catch(() => undefined);
  if (!handle) return undefined;
  try {
    const buffer = Buffer.alloc(count);
    const { bytesRead } = await handle.read(buffer, 0, count, 0);
    return buffer.subarray(0, bytesRead);
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * A WIM file given where a bundle is expected (`ferry load NanoServer.wim`) is refused as such,
 * with the commands that do it: a WIM is made into a bundle by `ferry save` first. (A zip reader
 * would only say "not a readable zip, maybe truncated", which sends the user to copy it again.)
 */
export async function refuseWimAsBundle(file: string, command: string): Promise<void> {
  const head = await firstBytes(file, WIM_MAGIC.length);
  if (!head || !(head.equals(WIM_MAGIC) || head.equals(PIPABLE_WIM_MAGIC))) return;
  const shown = escapeControls(file);
  const bundle = `${nodePath.basename(file).replace(/\.(wim|swm)$/i, "") || "os"}.zip`;
  throw new UsageError(`${shown} is a WIM file (a Windows OS image), not a ferry bundle`, {
    hint: `make a bundle of it first: ferry save ${shown} -o ${escapeControls(bundle)}, then ferry ${command} ${escapeControls(bundle)}`,
    details: { file, kind: "wim" },
  });
}

import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";

/**
 * Resolves once `stream` has let go of what it reads (a file stream's descriptor is closed):
 * destroyed first, so a stream not read to its end stops there. Never rejects. The engine
 * waits for this before it settles, so a caller that closes the source and removes its files
 * next (a WIM download's temporary folder; on Windows an open file cannot be removed) finds no
 * handle still open.
 */
export async function released(stream: Readable): Promise<void> {
  stream.destroy();
  await finished(stream).catch(() => {});
}

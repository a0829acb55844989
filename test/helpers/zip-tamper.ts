import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { FileRandomAccess } from "../../src/transports/bundle/random-access.js";
import { indexZip, type ZipEntry } from "../../src/transports/bundle/zip-index.js";

/** The zip entries of a bundle, with their data offsets (read with ferry's own zip index). */
export async function zipEntries(file: string): Promise<Map<string, ZipEntry>> {
  const source = await FileRandomAccess.open(file);
  try {
    return (await indexZip(source)).entries;
  } finally {
    await source.close();
  }
}

/** Flip one byte of a file at an offset (xor 0xff). */
export function flipByte(file: string, offset: number): void {
  const fd = openSync(file, "r+");
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    writeSync(fd, byte, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

/** Flip a byte in the middle of an entry's data. */
export async function corruptEntry(file: string, name: string): Promise<void> {
  const entry = (await zipEntries(file)).get(name);
  if (!entry) throw new Error(`no entry ${name} in ${file}`);
  flipByte(file, entry.dataStart + Math.floor(entry.size / 2));
}

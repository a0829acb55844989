import { open } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFully } from "../../src/transports/bundle/random-access.js";
import {
  bytesAt,
  fillFrom,
  handleReads,
  type PositionalRead,
} from "../../src/util/positional-read.js";
import { tempDir } from "../helpers/cli.js";

/** Reads of `data` that hand back at most `most` bytes at a time, counted in `calls`. */
function shortReads(data: Buffer, most: number) {
  const calls: number[] = [];
  const read: PositionalRead = async (buffer, offset, length, position) => {
    const n = Math.max(0, Math.min(length, most, data.length - position));
    data.copy(buffer, offset, position, position + n);
    calls.push(n);
    return n;
  };
  return { read, calls };
}

describe("positional reads and writes", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const data = Buffer.from("0123456789abcdefghij");

  it("fill a buffer through short reads", async () => {
    const { read, calls } = shortReads(data, 3);
    const buffer = Buffer.alloc(10);
    expect(await fillFrom(read, buffer, 5)).toBe(10);
    expect(buffer.toString()).toBe("56789abcde");
    expect(calls).toEqual([3, 3, 3, 1]);
  });

  it("stop where the data ends and say how much came", async () => {
    const { read } = shortReads(data, 4);
    expect((await bytesAt(read, 14, 10)).toString()).toBe("efghij");
  });

  it("write all of a buffer at a position", async () => {
    const file = path.join(tmp.dir, "written");
    const handle = await open(file, "w+");
    try {
      await writeFully(handle, data.subarray(0, 4), 0);
      await writeFully(handle, data.subarray(4), 4);
      const back = Buffer.alloc(data.length);
      expect(await fillFrom(handleReads(handle), back, 0)).toBe(data.length);
      expect(back).toEqual(data);
    } finally {
      await handle.close();
    }
  });
});

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DownloadPipe } from "../../../src/transports/registry/download-pipe.js";

/**
 * Let every queued microtask run (setImmediate comes after them all): the pipe is in-memory
 * code with no I/O, so whatever it would settle has settled by then. No clock involved.
 */
const tick = () => new Promise((r) => setImmediate(r));

function pipeOf(size: number, prefix = 0) {
  let resets = 0;
  const pipe = new DownloadPipe(prefix, size, async () => {
    resets++;
  });
  return { pipe, resets: () => resets };
}

describe("a download handed straight to its reader", () => {
  it("append waits until the reader copied the chunk; the last chunk is copied and returns at once", async () => {
    const bytes = randomBytes(3000);
    const { pipe } = pipeOf(3000);
    const scratch = Buffer.from(bytes.subarray(0, 1000));
    let firstDone = false;
    const first = pipe.append([scratch]).then(() => {
      firstDone = true;
    });
    await tick();
    expect(firstDone).toBe(false);
    expect(pipe.length).toBe(1000);
    const out = Buffer.alloc(3000);
    expect(pipe.take(out, 0, 600, 0, 3000)).toBe(600);
    await tick();
    expect(firstDone).toBe(false);
    expect(pipe.take(out, 600, 3000, 600, 3000)).toBe(400);
    await first;
    // The buffer may be reused now: the reader has its bytes.
    scratch.fill(0);
    const tail = Buffer.from(bytes.subarray(1000));
    await pipe.append([tail]);
    tail.fill(0);
    expect(pipe.take(out, 1000, 2000, 1000, 2999)).toBe(1999);
    expect(pipe.take(out, 2999, 1, 2999, 3000)).toBe(1);
    expect(out.equals(bytes)).toBe(true);
  });

  it("refuses reads out of order, and counts a prefix from the partial file", () => {
    const { pipe } = pipeOf(100, 40);
    expect(pipe.length).toBe(40);
    expect(() => pipe.take(Buffer.alloc(10), 0, 10, 0, 100)).toThrow(/out of order/);
    expect(pipe.take(Buffer.alloc(10), 0, 10, 40, 100)).toBe(0);
  });

  it("starts over only while the reader has taken nothing; after that, fails and drops the prefix", async () => {
    const fresh = pipeOf(100, 30);
    await fresh.pipe.reset();
    expect(fresh.pipe.length).toBe(0);
    expect(fresh.resets()).toBe(1);

    const used = pipeOf(100, 30);
    used.pipe.readerBegan = true;
    await expect(used.pipe.reset()).rejects.toThrow(/range request/);
    expect(used.resets()).toBe(1);
  });

  it("an abandoned pipe lets the download go on without a reader", async () => {
    const { pipe } = pipeOf(5000);
    const pending = pipe.append([randomBytes(1000)]);
    pipe.abandon();
    await pending;
    await pipe.append([randomBytes(1000)]);
    expect(pipe.length).toBe(2000);
  });
});

/**
 * util/fs-retry.ts: what Windows makes flaky (a scanner holding a file ferry just wrote) is
 * tried again with a growing delay; elsewhere the same errors come at once. The platform, the
 * errors and the clock are injected: no real waiting, no Windows machine.
 */
import { describe, expect, it } from "vitest";
import {
  createFileOps,
  type FsPrimitives,
  meansNoHardLinks,
  type RetryNote,
  WINDOWS_RETRY_DELAYS_MS,
} from "../../src/util/fs-retry.js";

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** A primitive that fails with `codes` in turn, then succeeds; counts its calls. */
function flaky(codes: string[]): { calls: number; call: () => Promise<void> } {
  const state = {
    calls: 0,
    call: async () => {
      const code = codes[state.calls++];
      if (code) throw errno(code);
    },
  };
  return state;
}

function opsWith(
  primitive: keyof FsPrimitives,
  call: () => Promise<void>,
  platform: NodeJS.Platform,
) {
  const slept: number[] = [];
  const notes: RetryNote[] = [];
  const ops = createFileOps({
    platform,
    primitives: { [primitive]: call },
    sleep: async (ms) => {
      slept.push(ms);
    },
    onRetry: (note) => notes.push(note),
  });
  return { ops, slept, notes };
}

describe("file operations on Windows", () => {
  it.each([
    ["rename", "EBUSY"],
    ["unlink", "EPERM"],
    ["link", "EACCES"],
    ["removeTree", "ENOTEMPTY"],
  ] as const)("%s is tried again after %s, with growing delays, and succeeds", async (op, code) => {
    const primitive = flaky([code, code, code]);
    const { ops, slept, notes } = opsWith(op, primitive.call, "win32");
    if (op === "rename" || op === "link") await ops[op]("/s/a", "/s/b");
    else await ops[op]("/s/a");
    expect(primitive.calls).toBe(4);
    expect(slept).toEqual([10, 20, 40]);
    expect(notes.map((n) => [n.op, n.code, n.attempt])).toEqual([
      [op, code, 1],
      [op, code, 2],
      [op, code, 3],
    ]);
  });

  it("gives up after about five seconds of waiting with the last error", async () => {
    const primitive = flaky(Array(50).fill("EBUSY"));
    const { ops, slept } = opsWith("rename", primitive.call, "win32");
    await expect(ops.rename("/s/a", "/s/b")).rejects.toMatchObject({ code: "EBUSY" });
    expect(slept).toEqual([...WINDOWS_RETRY_DELAYS_MS]);
    expect(slept.reduce((a, b) => a + b, 0)).toBe(5270);
    expect(primitive.calls).toBe(WINDOWS_RETRY_DELAYS_MS.length + 1);
  });

  it("an error that is not a brief hold comes at once (ENOENT, ENOSPC, EEXIST)", async () => {
    for (const code of ["ENOENT", "ENOSPC", "EEXIST"]) {
      const primitive = flaky([code]);
      const { ops, slept } = opsWith("rename", primitive.call, "win32");
      await expect(ops.rename("/s/a", "/s/b")).rejects.toMatchObject({ code });
      expect(primitive.calls).toBe(1);
      expect(slept).toEqual([]);
    }
  });
});

describe("file operations elsewhere", () => {
  it("EPERM, EBUSY and EACCES mean what they say on Linux: no retry, no delay", async () => {
    for (const code of ["EPERM", "EBUSY", "EACCES"]) {
      const primitive = flaky([code]);
      const { ops, slept } = opsWith("unlink", primitive.call, "linux");
      await expect(ops.unlink("/s/a")).rejects.toMatchObject({ code });
      expect(primitive.calls).toBe(1);
      expect(slept).toEqual([]);
    }
  });
});

describe("meansNoHardLinks", () => {
  it("knows the answers of file systems without hard links, on Linux and Windows", () => {
    // Linux on FAT/exFAT: EPERM; Windows on FAT32: EISDIR (libuv's ERROR_INVALID_FUNCTION);
    // Windows on exFAT: ENOTSUP.
    for (const code of ["EPERM", "EISDIR", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]) {
      expect(meansNoHardLinks(errno(code)), code).toBe(true);
    }
    for (const code of ["EEXIST", "ENOENT", "ENOSPC", "EXDEV"]) {
      expect(meansNoHardLinks(errno(code)), code).toBe(false);
    }
  });
});

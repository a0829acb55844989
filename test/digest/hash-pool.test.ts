import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import {
  HASH_WORKER_SOURCE,
  HashPool,
  moduleUrl,
  SLOT_BYTES,
  WORKER_MIN_BYTES,
} from "../../src/digest/hash-pool.js";
import { pumpVerified } from "../../src/digest/verified-pump.js";
import { FerryError } from "../../src/errors.js";
import { type Digest, digestFromHex } from "../../src/types/digest.js";
import type { BlobReader, BlobWriter } from "../../src/types/transport.js";
import { errorOf } from "../helpers/errors.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function digestOf(bytes: Uint8Array): Digest {
  return digestFromHex(createHash("sha256").update(bytes).digest("hex"));
}

/** A reader over bytes in memory; `available` below the length makes the data end early. */
function memoryReader(bytes: Buffer, available = bytes.length) {
  const state = { closed: false, reads: 0 };
  const reader: BlobReader = {
    async read(buffer, offset, length, position) {
      state.reads++;
      await new Promise((resolve) => setImmediate(resolve));
      const end = Math.min(available, position + length);
      if (position >= end) return 0;
      return bytes.copy(buffer, offset, position, end);
    },
    async close() {
      state.closed = true;
    },
  };
  return { reader, state };
}

/** A writer that keeps what it is given, and how it ended. */
function memoryWriter(options: { failAt?: number } = {}) {
  const chunks: Buffer[] = [];
  const state = { finished: false, discarded: false, writes: 0 };
  const writer: BlobWriter = {
    async write(buffer, length) {
      state.writes++;
      if (options.failAt !== undefined && state.writes >= options.failAt) {
        throw new FerryError("EIO", "writing x: disk on fire");
      }
      await new Promise((resolve) => setImmediate(resolve));
      chunks.push(Buffer.from(buffer.subarray(0, length)));
    },
    async finish() {
      state.finished = true;
    },
    async discard() {
      state.discarded = true;
    },
  };
  return { writer, state, bytes: () => Buffer.concat(chunks) };
}

const pools: HashPool[] = [];
function pool(options: ConstructorParameters<typeof HashPool>[0] = {}): HashPool {
  const made = new HashPool({ size: 2, ...options });
  pools.push(made);
  return made;
}
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe("verified pump on the hash worker pool", () => {
  it("copies a multi-chunk blob byte for byte and finishes the writer", async () => {
    const hashers = pool();
    const bytes = randomBytes(5 * SLOT_BYTES + 12345);
    const { reader, state: readState } = memoryReader(bytes);
    const { writer, state, bytes: written } = memoryWriter();
    let counted = 0;
    await pumpVerified(reader, writer, { digest: digestOf(bytes), size: bytes.length }, "blob x", {
      pool: hashers,
      onBytes: (n) => {
        counted += n;
      },
    });
    expect(written().equals(bytes)).toBe(true);
    expect(counted).toBe(bytes.length);
    expect(state).toMatchObject({ finished: true, discarded: false });
    expect(readState.closed).toBe(true);
    expect(hashers.threads).toBe(1);
  });

  it("names the blob whose bytes do not match (EINTEGRITY) and keeps nothing", async () => {
    const hashers = pool();
    const bytes = randomBytes(3 * SLOT_BYTES);
    const expected = digestOf(bytes);
    bytes[2 * SLOT_BYTES + 7] = (bytes[2 * SLOT_BYTES + 7] as number) ^ 0xff;
    const { reader } = memoryReader(bytes);
    const { writer, state } = memoryWriter();
    const what = `blob ${expected} (layer)`;
    const error = await errorOf(
      pumpVerified(reader, writer, { digest: expected, size: bytes.length }, what, {
        pool: hashers,
      }),
    );
    expect(error.code).toBe("EINTEGRITY");
    expect(error.message).toContain(what);
    expect(error.details).toMatchObject({ expected, found: digestOf(bytes) });
    expect(state).toMatchObject({ finished: false, discarded: true });
  });

  it("fails a blob whose data ends before its declared size (ESIZE)", async () => {
    const hashers = pool();
    const bytes = randomBytes(2 * SLOT_BYTES + 99);
    const { reader } = memoryReader(bytes, SLOT_BYTES + 5);
    const { writer, state } = memoryWriter();
    const error = await errorOf(
      pumpVerified(reader, writer, { digest: digestOf(bytes), size: bytes.length }, "blob y", {
        pool: hashers,
      }),
    );
    expect(error.code).toBe("ESIZE");
    expect(error.message).toContain("blob y");
    expect(error.details).toMatchObject({ expected: bytes.length, found: SLOT_BYTES + 5 });
    expect(state).toMatchObject({ finished: false, discarded: true });
  });

  it("fails a small blob whose data ends early on the main thread too (ESIZE)", async () => {
    const bytes = randomBytes(1000);
    const { reader } = memoryReader(bytes, 400);
    const { writer, state } = memoryWriter();
    const error = await errorOf(
      pumpVerified(reader, writer, { digest: digestOf(bytes), size: 1000 }, "config z"),
    );
    expect(error.code).toBe("ESIZE");
    expect(state.discarded).toBe(true);
  });

  it("hashes blobs smaller than WORKER_MIN_BYTES on the main thread (no worker started)", async () => {
    const hashers = pool();
    for (const size of [0, 1, 200, WORKER_MIN_BYTES - 1]) {
      const bytes = randomBytes(size);
      const { reader } = memoryReader(bytes);
      const { writer, bytes: written } = memoryWriter();
      await pumpVerified(reader, writer, { digest: digestOf(bytes), size }, "tiny", {
        pool: hashers,
      });
      expect(written().equals(bytes)).toBe(true);
    }
    expect(hashers.threads).toBe(0);
  });

  it("hashes several blobs at once, at most one per worker, each correctly", async () => {
    const hashers = pool({ size: 2 });
    const blobs = Array.from({ length: 5 }, (_, i) => randomBytes(2 * SLOT_BYTES + i * 4099));
    blobs[3] = Buffer.from(blobs[3] as Buffer);
    const expectedDigests = blobs.map(digestOf);
    (blobs[3] as Buffer)[100] = ((blobs[3] as Buffer)[100] as number) ^ 1; // this one is bad
    let peak = 0;
    const results = await Promise.allSettled(
      blobs.map(async (bytes, i) => {
        const { reader } = memoryReader(bytes);
        const { writer, bytes: written } = memoryWriter();
        const digest = expectedDigests[i] as Digest;
        await pumpVerified(reader, writer, { digest, size: bytes.length }, `blob ${i}`, {
          pool: hashers,
          onBytes: () => {
            peak = Math.max(peak, hashers.threads);
          },
        });
        expect(written().equals(bytes)).toBe(true);
      }),
    );
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    const bad = (results[3] as PromiseRejectedResult).reason as FerryError;
    expect(bad.code).toBe("EINTEGRITY");
    expect(bad.message).toContain("blob 3");
    expect(peak).toBeLessThanOrEqual(2);
    expect(hashers.threads).toBe(2);
  });

  it("gives the writer's failure, not a hang, and the worker serves the next blob", async () => {
    const hashers = pool({ size: 1 });
    const bytes = randomBytes(4 * SLOT_BYTES);
    const { reader } = memoryReader(bytes);
    const { writer, state } = memoryWriter({ failAt: 2 });
    const error = await errorOf(
      pumpVerified(reader, writer, { digest: digestOf(bytes), size: bytes.length }, "blob w", {
        pool: hashers,
      }),
    );
    expect(error.code).toBe("EIO");
    expect(state.discarded).toBe(true);
    // The same worker, reset, hashes the next blob correctly.
    const again = memoryReader(bytes);
    const out = memoryWriter();
    await pumpVerified(
      again.reader,
      out.writer,
      { digest: digestOf(bytes), size: bytes.length },
      "blob w",
      {
        pool: hashers,
      },
    );
    expect(out.bytes().equals(bytes)).toBe(true);
    expect(hashers.threads).toBe(1);
  });
});

describe("a hash worker that dies", () => {
  const exitsOnSecondUpdate = `
import { parentPort } from "node:worker_threads";
let updates = 0;
parentPort.on("message", (m) => {
  if (m >= 0 && ++updates === 2) process.exit(7);
  parentPort.postMessage(m === -1 ? "0".repeat(64) : 0);
});`;
  const throwsOnFirstUpdate = `
import { parentPort } from "node:worker_threads";
parentPort.on("message", () => { throw new Error("worker blew up"); });`;

  it.each([
    ["exits", exitsOnSecondUpdate, /exited \(code 7\)/],
    ["throws", throwsOnFirstUpdate, /failed .*worker blew up/],
  ])("fails its blob with a typed error when it %s", async (_how, source, message) => {
    const hashers = pool({ size: 1, source });
    const bytes = randomBytes(4 * SLOT_BYTES);
    const what = `blob ${digestOf(bytes)} (layer)`;
    const { reader, state: readState } = memoryReader(bytes);
    const { writer, state } = memoryWriter();
    const error = await errorOf(
      pumpVerified(reader, writer, { digest: digestOf(bytes), size: bytes.length }, what, {
        pool: hashers,
      }),
    );
    expect(error.code).toBe("EINTERNAL");
    expect(error.message).toMatch(message);
    expect(error.message).toContain(what);
    expect(state).toMatchObject({ finished: false, discarded: true });
    expect(readState.closed).toBe(true);
    expect(hashers.threads).toBe(0);
  });

  it("is replaced: the next blob gets a new worker", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ferry-hash-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const marker = path.join(dir, "died");
    // The first worker dies on its first update; any later one is the real worker.
    const source = `
import { existsSync, writeFileSync } from "node:fs";
import { parentPort } from "node:worker_threads";
if (!existsSync(${JSON.stringify(marker)})) {
  writeFileSync(${JSON.stringify(marker)}, "");
  parentPort.on("message", () => process.exit(9));
} else {
  await import(${JSON.stringify(moduleUrl(HASH_WORKER_SOURCE).href)});
}`;
    const hashers = pool({ size: 1, source });
    const bytes = randomBytes(3 * SLOT_BYTES);
    const expected = { digest: digestOf(bytes), size: bytes.length };
    const first = memoryWriter();
    const error = await errorOf(
      pumpVerified(memoryReader(bytes).reader, first.writer, expected, "blob r", { pool: hashers }),
    );
    expect(error.message).toMatch(/exited \(code 9\) while hashing blob r/);
    const second = memoryWriter();
    await pumpVerified(memoryReader(bytes).reader, second.writer, expected, "blob r", {
      pool: hashers,
    });
    expect(second.bytes().equals(bytes)).toBe(true);
    expect(hashers.threads).toBe(1);
  });

  it("stops offering threads when workers cannot start: blobs hash on the main thread", async () => {
    const hashers = pool({ size: 2, source: `throw new Error("no threads here");` });
    const bytes = randomBytes(2 * SLOT_BYTES);
    const expected = { digest: digestOf(bytes), size: bytes.length };
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const out = memoryWriter();
      try {
        await pumpVerified(memoryReader(bytes).reader, out.writer, expected, "blob s", {
          pool: hashers,
        });
        expect(out.bytes().equals(bytes)).toBe(true);
        outcomes.push("ok");
      } catch (error) {
        expect((error as FerryError).code).toBe("EINTERNAL");
        outcomes.push("EINTERNAL");
      }
    }
    // At most the blobs that met the two dead workers fail; then the main thread hashes.
    expect(outcomes.slice(2)).toEqual(["ok", "ok"]);
    expect(hashers.threads).toBe(0);
  });

  it("fails its blob when the pool is closed under it; later blobs hash on the main thread", async () => {
    const hashers = pool({ size: 1 });
    const bytes = randomBytes(3 * SLOT_BYTES);
    const expected = { digest: digestOf(bytes), size: bytes.length };
    const out = memoryWriter();
    let closing: Promise<void> | undefined;
    const error = await errorOf(
      pumpVerified(memoryReader(bytes).reader, out.writer, expected, "blob k", {
        pool: hashers,
        onBytes: () => {
          closing ??= hashers.close();
        },
      }),
    );
    await closing;
    expect(error.code).toBe("EINTERNAL");
    expect(out.state.discarded).toBe(true);
    const again = memoryWriter();
    await pumpVerified(memoryReader(bytes).reader, again.writer, expected, "blob k", {
      pool: hashers,
    });
    expect(again.bytes().equals(bytes)).toBe(true);
    expect(hashers.threads).toBe(0);
  });
});

describe("the process", () => {
  const dist = path.join(repo, "dist", "digest", "verified-pump.js");

  it("exits when the work is done, with its idle workers still there (they never keep it alive)", async () => {
    expect(existsSync(dist), "run npm run build first").toBe(true);
    // No clock: a worker that kept the process alive would hold it until the pool's idle timer
    // (10 s) retired it, so the process would exit with no worker left. Exiting as soon as the
    // work is done, it still has the idle workers when it exits.
    const script = path.join(repo, "test", "helpers", "pump-then-exit.mjs");
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    child.stdout.on("data", (data: Buffer) => {
      output += data.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    const [, done, exited] = /^done (\d+)\nexit (\d+)\n$/.exec(output) ?? [];
    expect(output).toMatch(/^done [12]\nexit \d+\n$/);
    expect(exited, "the workers were retired before the process could exit").toBe(done);
  });
});

// Three 6 MiB blobs pumped at once through the built ferry's shared hash pool; prints `done N`
// when the work is done and `exit N` as the process exits (N: the pool's worker threads then).
// test/digest/hash-pool.test.ts checks that the process exits with its idle workers still
// there; bench/timings.mjs times how long after `done` it exits. Needs `npm run build`.
import { createHash, randomBytes } from "node:crypto";

const dist = (file) => new URL(`../../dist/${file}`, import.meta.url).href;
const { pumpVerified } = await import(dist("digest/verified-pump.js"));
const { sharedHashPool } = await import(dist("digest/hash-pool.js"));

const bytes = randomBytes(6 * 1024 * 1024);
const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const reader = {
  read: async (b, o, l, p) => bytes.copy(b, o, p, Math.min(bytes.length, p + l)),
  close: async () => {},
};
const writer = { write: async () => {}, finish: async () => {}, discard: async () => {} };
sharedHashPool().warm();
await Promise.all(
  [1, 2, 3].map(() => pumpVerified(reader, writer, { digest, size: bytes.length }, "blob")),
);
console.log("done", sharedHashPool().threads);
process.on("exit", () => console.log("exit", sharedHashPool().threads));

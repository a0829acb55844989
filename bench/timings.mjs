#!/usr/bin/env node
// Small timings the tests used to assert against the clock (they now check reads, counts and
// CPU instead; a busy machine made the clock fail them): indexing a tar of 5000 entries, and how
// long a process takes to exit after hashing on worker threads. Prints one line each, with the
// old test's limit for reference.
//
// usage: npm run build && node bench/timings.mjs [--reps 5]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = (file) => pathToFileURL(path.join(root, "dist", file)).href;
const args = process.argv.slice(2);
const reps = Number(args[args.indexOf("--reps") + 1] || 5) || 5;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** A GNU tar of `count` small files, built in memory (header checksums computed here). */
function manyEntryTar(count) {
  const blocks = [];
  for (let i = 0; i < count; i++) {
    const content = Buffer.from(`#${i}`);
    const header = Buffer.alloc(512);
    header.write(`dir/file-${i}.txt`, 0, 100, "utf8");
    header.write("0000644\0", 100, "latin1");
    header.write(`${content.length.toString(8).padStart(11, "0")}\0`, 124, "latin1");
    header.write("00000000000\0", 136, "latin1");
    header.write("0", 156, "latin1");
    header.write("ustar  \0", 257, "latin1");
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    const data = Buffer.alloc(512);
    content.copy(data);
    blocks.push(header, data);
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

async function tarIndex() {
  const { TarReader } = await import(dist("transports/tar/tar-reader.js"));
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-bench-tar-"));
  try {
    const file = path.join(dir, "many.tar");
    writeFileSync(file, manyEntryTar(5000));
    const times = [];
    for (let i = 0; i < reps; i++) {
      const started = performance.now();
      const reader = await TarReader.open(file);
      times.push(performance.now() - started);
      await reader.close();
    }
    console.log(
      `tar index, 5000 entries: median ${median(times).toFixed(0)} ms (old test limit 1000 ms)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function exitAfterHashing() {
  // The program the test ran (test/digest/hash-pool.test.ts): prints "done" when the work is done.
  const script = path.join(root, "test", "helpers", "pump-then-exit.mjs");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let doneAt = 0;
    child.stdout.on("data", (data) => {
      if (data.toString().includes("done")) doneAt ||= performance.now();
    });
    child.on("error", reject);
    child.on("exit", () => resolve(performance.now() - doneAt));
  });
}

await tarIndex();
const exits = [];
for (let i = 0; i < reps; i++) exits.push(await exitAfterHashing());
console.log(
  `exit after hashing on workers: median ${median(exits).toFixed(0)} ms after the work (old test limit 1500 ms)`,
);

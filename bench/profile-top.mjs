#!/usr/bin/env node
// Summarize a V8 .cpuprofile (from `node --cpu-prof`): the top functions by self time, and the
// share of idle time (the main thread waiting on I/O or the thread pool).
//
// usage: node bench/profile-top.mjs FILE.cpuprofile [--top N]
import { readFileSync } from "node:fs";
import path from "node:path";

export function summarize(profile, top = 15) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const frame = node.callFrame;
    const where = frame.url
      ? `${path.basename(frame.url)}:${frame.lineNumber + 1}`
      : frame.functionName.startsWith("(")
        ? ""
        : "(native)";
    const key = `${frame.functionName || "(anonymous)"} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + delta);
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: total / 1000,
    rows: rows.map(([name, micros]) => ({
      name,
      ms: micros / 1000,
      share: total ? micros / total : 0,
    })),
  };
}

function main(argv) {
  const file = argv[0];
  if (!file) throw new Error("usage: node bench/profile-top.mjs FILE.cpuprofile [--top N]");
  const topAt = argv.indexOf("--top");
  const top = topAt >= 0 ? Number(argv[topAt + 1]) : 15;
  const { totalMs, rows } = summarize(JSON.parse(readFileSync(file, "utf8")), top);
  console.log(`${file}: ${(totalMs / 1000).toFixed(2)} s sampled on the main thread`);
  console.log("  self ms   share  function");
  for (const row of rows) {
    console.log(
      `${row.ms.toFixed(0).padStart(9)}  ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.name}`,
    );
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(error.message);
    process.exitCode = 1;
  }
}

#!/usr/bin/env node
// Issue 17's serve row: `ferry serve` vs the distribution registry (Debian docker-registry)
// serving the same 3 images to `skopeo copy docker:// oci:`. Both listen on 127.0.0.1, plain
// http; the registry is filled with `skopeo copy oci: docker://`, the store with `ferry save` +
// `ferry load`, both from the same generated layout (bench/gen-data.mjs), untimed. Each timed
// run copies the 3 images, one skopeo copy each, into one fresh layout; its index.json is then
// checked against the layout's manifest digests (untimed). Server CPU is the server process's
// user+system time during the run.
//
// usage: npm run build && node bench/serve.mjs [--size 512MiB] [--reps 3] [--seed ferry]
//        [--ferry BIN]   (default: bin/ferry of this checkout, so dist/ must be built)
// Results: bench/work/serve-results-<size>.md and .json (and the table on stdout).
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generate, IMAGE_REFS, parseSize } from "./gen-data.mjs";
import { hasCommand, machineInfo, measure, median, q } from "./lib/measure.mjs";
import { hasRegistry, startRegistry } from "./lib/registry.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const work = path.join(root, "bench", "work");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const size = parseSize(option("--size", "512MiB"));
const reps = Math.max(1, Number(option("--reps", "3")) || 3);
const seed = option("--seed", "ferry");
const ferryBin = path.resolve(option("--ferry", path.join(root, "bin", "ferry")));
const MiB = 1024 * 1024;
const label =
  size >= 1024 * MiB
    ? `${Math.round((size / (1024 * MiB)) * 100) / 100}GiB`
    : `${Math.round(size / MiB)}MiB`;

/** Run to the end; reject with its output when it fails. */
function runQuietly(command, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} ${argv.join(" ")}: ${output}`)),
    );
  });
}

/** `ferry serve` on a free loopback port; resolves with its host and pid once it listens. */
function startServe(store) {
  const child = spawn(
    ferryBin,
    ["serve", "--store", store, "--addr", "127.0.0.1:0", "--json", "-q"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const line = stdout.split("\n").find((l) => l.includes('"listening"'));
      if (line) {
        const { port } = JSON.parse(line);
        resolve({
          host: `127.0.0.1:${port}`,
          pid: child.pid,
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`ferry serve exited (${code}): ${stderr}`)));
  });
}

/** The 3 images as `REPO:TAG` under a server, and the digest each must arrive with. */
function images(summary) {
  return summary.images.map((image) => {
    const ref = image.ref; // localhost/ferry-bench/appN:1.0
    const [repo, tag] = [ref.slice(0, ref.lastIndexOf(":")), ref.slice(ref.lastIndexOf(":") + 1)];
    return { ref, repo, tag, digest: image.digest };
  });
}

function checkCopied(out, expected) {
  const index = JSON.parse(readFileSync(path.join(out, "index.json"), "utf8"));
  const got = index.manifests.map((m) => m.digest).sort();
  const want = expected.map((i) => i.digest).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`skopeo copy got ${got.join(", ")}; expected ${want.join(", ")}`);
  }
}

async function main() {
  if (!hasCommand("skopeo") || !hasRegistry()) {
    console.error(
      "bench/serve: skopeo and docker-registry are needed (apt-get install skopeo docker-registry)",
    );
    process.exit(2);
  }
  mkdirSync(work, { recursive: true });
  const runDir = path.join(work, `serve-${label}`);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const dataDir = path.join(work, `data-${label}-${seed}`, "oci");
  console.error(`bench/serve: data ${label} in ${dataDir}`);
  const summary = await generate(dataDir, { size, seed });
  const wanted = images(summary);
  if (wanted.length !== IMAGE_REFS.length) throw new Error("unexpected data set");

  // The store: ferry save + ferry load, as a user fills it.
  const bundle = path.join(runDir, "bundle.zip");
  const store = path.join(runDir, "store");
  await runQuietly(ferryBin, ["save", `oci:${dataDir}`, "-o", bundle, "-q"]);
  await runQuietly(ferryBin, ["load", bundle, "--store", store, "-q"]);
  rmSync(bundle, { force: true });
  // The registry: the same images pushed by skopeo.
  const registry = await startRegistry(path.join(runDir, "registry"));
  for (const image of wanted) {
    await runQuietly("skopeo", [
      "copy",
      "--quiet",
      "--dest-tls-verify=false",
      `oci:${dataDir}:${image.ref}`,
      `docker://${registry.host}/${image.repo}:${image.tag}`,
    ]);
  }
  const serve = await startServe(store);
  const servers = [
    { name: "ferry-serve", label: "ferry serve", host: serve.host, pid: serve.pid },
    { name: "registry", label: "distribution registry", host: registry.host, pid: registry.pid },
  ];
  const results = Object.fromEntries(servers.map((s) => [s.name, []]));
  try {
    for (let rep = 1; rep <= reps; rep++) {
      // Alternate which server goes first, so neither always gets the warmer page cache.
      const order = rep % 2 === 1 ? servers : [...servers].reverse();
      for (const server of order) {
        const out = path.join(runDir, `out-${server.name}`);
        rmSync(out, { recursive: true, force: true });
        mkdirSync(out, { recursive: true });
        const script = wanted
          .map(
            (image) =>
              `skopeo copy --quiet --src-tls-verify=false docker://${server.host}/${image.repo}:${image.tag} oci:${q(out)}:${image.ref}`,
          )
          .join(" && ");
        const result = await measure("sh", ["-c", script], { servers: [server.pid] });
        checkCopied(out, wanted);
        results[server.name].push(result);
        console.error(
          `bench/serve: rep ${rep} ${server.label}: ${result.seconds.toFixed(2)} s, skopeo cpu ${result.cpu.toFixed(2)} s, server cpu ${result.serverCpu.toFixed(2)} s`,
        );
        rmSync(out, { recursive: true, force: true });
      }
    }
  } finally {
    await serve.stop();
    await registry.stop();
  }

  const row = (name) => {
    const runs = results[name];
    return {
      seconds: median(runs.map((r) => r.seconds)),
      best: Math.min(...runs.map((r) => r.seconds)),
      clientCpu: median(runs.map((r) => r.cpu)),
      serverCpu: median(runs.map((r) => r.serverCpu)),
      clientRssMB: Math.max(...runs.map((r) => r.rss)) / 1e6,
      runs: runs.map((r) => r.seconds),
    };
  };
  const ferryRow = row("ferry-serve");
  const registryRow = row("registry");
  const bytes = summary.blobs.reduce((sum, b) => sum + b.size, 0);
  const report = {
    date: new Date().toISOString(),
    machine: machineInfo(work),
    size: label,
    bytes,
    reps,
    ferry: ferryBin,
    command: `skopeo copy --src-tls-verify=false docker://HOST/localhost/ferry-bench/appN:1.0 oci:OUT:REF, N = 1..3, in sequence`,
    results: { "ferry-serve": ferryRow, registry: registryRow },
  };
  const fmt = (n) => n.toFixed(2);
  const table = [
    `serve to skopeo copy, ${label} (${(bytes / MiB).toFixed(0)} MiB of blobs, 3 images), ${reps} rep(s), medians`,
    "",
    "| server | wall s | best s | skopeo cpu s | server cpu s | MB/s (median) |",
    "|---|---|---|---|---|---|",
    ...[
      ["ferry serve", ferryRow],
      ["distribution registry", registryRow],
    ].map(
      ([name, r]) =>
        `| ${name} | ${fmt(r.seconds)} | ${fmt(r.best)} | ${fmt(r.clientCpu)} | ${fmt(r.serverCpu)} | ${(bytes / MiB / r.seconds).toFixed(0)} |`,
    ),
    "",
    `ferry serve / registry, wall: ${fmt(ferryRow.seconds / registryRow.seconds)} (best-of ${fmt(ferryRow.best / registryRow.best)}); server cpu: ${fmt(ferryRow.serverCpu / Math.max(1e-9, registryRow.serverCpu))}`,
    `machine: ${os.cpus().length} cpu(s); other load during runs is not controlled (see bench/README.md)`,
  ].join("\n");
  writeFileSync(
    path.join(work, `serve-results-${label}.json`),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  writeFileSync(path.join(work, `serve-results-${label}.md`), `${table}\n`);
  console.log(table);
}

await main();

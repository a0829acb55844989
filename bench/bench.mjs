#!/usr/bin/env node
// ferry benchmark: generate ~1 GiB (or ~5 GiB with --big) of OCI image data, then time, in one
// run on the same data, ferry save / verify / load against `skopeo copy oci: oci:` and
// `openssl dgst -sha256` over the same bytes, with ferry's peak RSS. See bench/README.md.
//
// usage: node bench/bench.mjs [--big] [--size BYTES] [--reps N] [--seed S] [--work DIR]
//                             [--strict] [--no-skopeo]
// Run it through `bash bench/run.sh` (or `npm run bench`), which builds ferry and makes sure
// GNU time is there.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generate, parseSize } from "./gen-data.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
let ferryBin = path.join(repo, "bin", "ferry");
const GiB = 1024 ** 3;

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const options = {
    size: GiB,
    reps: undefined,
    seed: "ferry",
    work: path.join(here, "work"),
    strict: false,
    skopeo: true,
    big: false,
    ferry: undefined,
    tag: undefined,
    quietWait: 60,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--big") {
      options.big = true;
      options.size = 5 * GiB;
    } else if (arg === "--size") options.size = parseSize(value());
    else if (arg === "--reps") options.reps = Number(value());
    else if (arg === "--seed") options.seed = value();
    else if (arg === "--work") options.work = path.resolve(value());
    else if (arg === "--strict") options.strict = true;
    else if (arg === "--no-skopeo") options.skopeo = false;
    else if (arg === "--ferry") options.ferry = path.resolve(value());
    else if (arg === "--tag") options.tag = value();
    else if (arg === "--quiet-wait") options.quietWait = Number(value());
    else if (arg === "-h" || arg === "--help") {
      console.log(
        "usage: bash bench/run.sh [--big] [--size BYTES|1GiB] [--reps N] [--seed S] [--work DIR] [--strict] [--no-skopeo] [--worktree | --ferry BIN] [--tag NAME] [--quiet-wait SECONDS]",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  // Three repetitions (median reported) at 1 GiB; one at 5 GiB, where a run takes minutes.
  options.reps ??= options.size > 2 * GiB ? 1 : 3;
  if (!Number.isInteger(options.reps) || options.reps < 1) throw new Error("--reps must be >= 1");
  return options;
}

// ---------------------------------------------------------------- measuring

const gnuTime = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

function commandOutput(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function hasCommand(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).status === 0;
}

/** Flush dirty pages (untimed) so one step's writeback does not land in the next one's time. */
function syncDisks() {
  spawnSync("sync");
}

/** Busy and total CPU time of the whole machine so far (seconds), from /proc/stat. */
function machineCpu() {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: (total - idle) / 100, total: total / 100 };
  } catch {
    return undefined;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Wait (up to `maxSeconds`) until the machine is quiet: under 15% of all CPUs busy over half
 * a second. Other work on a shared 2-core box otherwise lands in the timings. Returns the busy
 * share last seen.
 */
async function waitForQuiet(maxSeconds) {
  const deadline = Date.now() + maxSeconds * 1000;
  let share = 0;
  for (;;) {
    const a = machineCpu();
    await sleep(500);
    const b = machineCpu();
    if (!a || !b) return 0;
    share = (b.busy - a.busy) / Math.max(1e-9, b.total - a.total);
    if (share < 0.15 || Date.now() >= deadline) return share;
  }
}

/** Peak RSS (KiB) of a running process from /proc, for when GNU time is missing. */
function pollPeak(pid, state) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    if (match) state.peakKiB = Math.max(state.peakKiB, Number(match[1]));
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    state.cpu = (Number(fields[11]) + Number(fields[12])) / 100 || state.cpu;
  } catch {
    // the process is gone
  }
}

/**
 * Run a command; return wall seconds, peak RSS (bytes) and its stdout. Fails on non-zero exit.
 * Wall time is measured here (hrtime around spawn..exit), peak RSS by GNU time's %M (max RSS
 * of the process, KiB) or by polling VmHWM in /proc.
 */
function measure(command, args, { cwd = repo, env } = {}) {
  return new Promise((resolve, reject) => {
    const rssFile = path.join(os.tmpdir(), `ferry-bench-rss-${process.pid}`);
    rmSync(rssFile, { force: true });
    const [cmd, argv] = gnuTime
      ? [gnuTime, ["-f", "%M %U %S", "-o", rssFile, command, ...args]]
      : [command, args];
    const cpuBefore = machineCpu();
    const started = process.hrtime.bigint();
    const child = spawn(cmd, argv, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = [];
    const err = [];
    child.stdout.on("data", (chunk) => out.push(chunk));
    child.stderr.on("data", (chunk) => err.push(chunk));
    const poll = { peakKiB: 0, cpu: 0 };
    const timer = gnuTime ? undefined : setInterval(() => pollPeak(child.pid, poll), 10);
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpuAfter = machineCpu();
      if (timer) clearInterval(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code !== 0) {
        const output = `${stderr}${stdout}`.trim();
        reject(
          new Error(
            `${path.basename(command)} ${args.join(" ")} exited with ${code}\n${output.slice(0, 3000)}${output.length > 3000 ? "\n..." : ""}`,
          ),
        );
        return;
      }
      let peakKiB = poll.peakKiB;
      let cpu = poll.cpu;
      if (gnuTime) {
        const text = existsSync(rssFile) ? readFileSync(rssFile, "utf8").trim() : "";
        const [rss, user, system] = (text.split("\n").pop() ?? "").split(" ").map(Number);
        peakKiB = rss ?? 0;
        cpu = (user ?? 0) + (system ?? 0);
        rmSync(rssFile, { force: true });
      }
      // CPU the rest of the machine used meanwhile, as a share of all CPUs: contention.
      const others =
        cpuBefore && cpuAfter
          ? Math.max(0, cpuAfter.busy - cpuBefore.busy - cpu) /
            Math.max(1e-9, cpuAfter.total - cpuBefore.total)
          : 0;
      resolve({ seconds, rss: peakKiB * 1024, cpu, others, stdout, stderr });
    });
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// ---------------------------------------------------------------- machine

function machineInfo(work) {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "?";
  const flags = /^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? [];
  const filesystem = commandOutput("df", ["-T", work])?.split("\n")[1]?.split(/\s+/)[1];
  return {
    nproc: Number(commandOutput("nproc", [])) || os.availableParallelism(),
    cpu: model,
    shaNi: flags.includes("sha_ni"),
    memoryGiB: Math.round((os.totalmem() / GiB) * 10) / 10,
    kernel: os.release(),
    node: process.version,
    skopeo: commandOutput("skopeo", ["--version"]) ?? "missing",
    openssl: commandOutput("openssl", ["version"]) ?? "missing",
    filesystem: filesystem ?? "?",
    rssBy: gnuTime ? "GNU time %M" : "polling /proc/PID/status VmHWM every 10 ms",
  };
}

// ---------------------------------------------------------------- the run

async function run(options) {
  if (options.ferry) ferryBin = options.ferry;
  else if (!existsSync(path.join(repo, "dist", "cli", "main.js"))) {
    throw new Error("ferry is not built: run `npm run build` (or `npm run bench`)");
  }
  const haveSkopeo = options.skopeo && hasCommand("skopeo");
  const haveOpenssl = hasCommand("openssl");
  const label =
    options.size >= GiB
      ? `${Math.round((options.size / GiB) * 100) / 100}GiB`
      : `${Math.round(options.size / 1024 ** 2)}MiB`;
  const work = options.work;
  const dataDir = path.join(work, `data-${label}-${options.seed}`, "oci");
  const runDir = path.join(work, `run-${label}`);
  const bundle = path.join(runDir, "bundle.zip");
  const store = path.join(runDir, "store");
  const skopeoDest = path.join(runDir, "skopeo-dest");
  const ddTarget = path.join(runDir, "dd-copy");
  mkdirSync(runDir, { recursive: true });

  const machine = machineInfo(work);
  console.error(
    `machine: ${machine.nproc} x ${machine.cpu}${machine.shaNi ? " (SHA-NI)" : ""}, ${machine.memoryGiB} GiB RAM, node ${machine.node}, ${machine.skopeo}, ${machine.openssl}, ${machine.filesystem}`,
  );

  console.error(`generating ${label} of image data in ${dataDir} ...`);
  const data = await generate(dataDir, { size: options.size, seed: options.seed });
  console.error(
    data.reused
      ? `  reused (${data.blobs.length} blobs, ${data.bytes} bytes)`
      : `  ${data.blobs.length} blobs, ${data.bytes} bytes in ${data.seconds.toFixed(1)} s`,
  );
  const blobFiles = data.blobs.map((blob) =>
    path.join(dataDir, "blobs", "sha256", blob.digest.slice(7)),
  );
  const refs = data.images.map((image) => image.ref);

  const cacheNeeds = data.bytes * 2; // the source data and the bundle stay cached together
  const cacheWarm = os.totalmem() > cacheNeeds * 1.5;
  console.error("warming the page cache (reading the source data once) ...");
  spawnSync("sh", ["-c", 'cat "$@" > /dev/null', "sh", ...blobFiles]);
  syncDisks();

  const samples = {};
  const add = (name, result) => {
    samples[name] ??= [];
    samples[name].push(result);
  };
  let bundleBytes = 0;

  for (let rep = 1; rep <= options.reps; rep++) {
    console.error(`repetition ${rep}/${options.reps}`);
    const log = (name, result) =>
      console.error(
        `  ${name.padEnd(15)} ${result.seconds.toFixed(2).padStart(6)} s wall ${result.cpu.toFixed(2).padStart(6)} s cpu ${(result.rss / 1e6).toFixed(0).padStart(5)} MB peak RSS   others busy ${(result.others * 100).toFixed(0).padStart(3)}%`,
      );
    const step = async (name, command, args, prepare) => {
      prepare?.();
      syncDisks();
      await waitForQuiet(options.quietWait);
      const result = await measure(command, args);
      add(name, result);
      log(name, result);
      return result;
    };
    if (haveOpenssl) await step("openssl-source", "openssl", ["dgst", "-sha256", ...blobFiles]);

    const save = await step(
      "ferry-save",
      process.execPath,
      [ferryBin, "save", `oci:${dataDir}`, "-o", bundle, "--json"],
      () => rmSync(bundle, { force: true }),
    );
    const saved = JSON.parse(save.stdout);
    bundleBytes = statSync(bundle).size;
    if (saved.images.length !== refs.length || saved.bytes !== data.bytes) {
      throw new Error(`ferry save wrote ${saved.images.length} images / ${saved.bytes} bytes`);
    }

    if (haveSkopeo) {
      // The same 3 images, one skopeo copy each, in sequence, into a fresh destination (the
      // shared base layer is then copied once, as ferry does).
      rmSync(skopeoDest, { recursive: true, force: true });
      syncDisks();
      const total = { seconds: 0, rss: 0, cpu: 0, others: 0, stdout: "" };
      for (const ref of refs) {
        await waitForQuiet(options.quietWait);
        const result = await measure("skopeo", [
          "copy",
          "--quiet",
          `oci:${dataDir}:${ref}`,
          `oci:${skopeoDest}:${ref}`,
        ]);
        total.others =
          (total.others * total.seconds + result.others * result.seconds) /
          (total.seconds + result.seconds);
        total.seconds += result.seconds;
        total.cpu += result.cpu;
        total.rss = Math.max(total.rss, result.rss);
      }
      add("skopeo-copy", total);
      log("skopeo-copy", total);
      const index = JSON.parse(readFileSync(path.join(skopeoDest, "index.json"), "utf8"));
      if (index.manifests.length !== refs.length) throw new Error("skopeo copied too few images");
      rmSync(skopeoDest, { recursive: true, force: true });
    }

    if (haveOpenssl) await step("openssl-bundle", "openssl", ["dgst", "-sha256", bundle]);

    const verify = await step("ferry-verify", process.execPath, [
      ferryBin,
      "verify",
      bundle,
      "--json",
    ]);
    if (!JSON.parse(verify.stdout).ok) throw new Error("ferry verify found problems");

    const load = await step(
      "ferry-load",
      process.execPath,
      [ferryBin, "load", bundle, "--store", store, "--json"],
      () => rmSync(store, { recursive: true, force: true }),
    );
    const loaded = JSON.parse(load.stdout);
    const want = new Map(data.images.map((image) => [image.ref, image.digest]));
    for (const image of loaded.images) {
      if (want.get(image.ref) !== image.digest) {
        throw new Error(`ferry load: ${image.ref} has digest ${image.digest}`);
      }
    }
    if (loaded.images.length !== refs.length) throw new Error("ferry load loaded too few images");
    rmSync(store, { recursive: true, force: true });

    // The disk's write floor for the same bytes: what any load has to pay.
    await step(
      "dd-fdatasync",
      "dd",
      [`if=${bundle}`, `of=${ddTarget}`, "bs=1M", "conv=fdatasync", "status=none"],
      () => rmSync(ddTarget, { force: true }),
    );
    rmSync(ddTarget, { force: true });
  }

  const pick = (name) => {
    const list = samples[name];
    if (!list) return undefined;
    return {
      seconds: median(list.map((s) => s.seconds)),
      min: Math.min(...list.map((s) => s.seconds)),
      max: Math.max(...list.map((s) => s.seconds)),
      rss: Math.max(...list.map((s) => s.rss)),
      cpu: median(list.map((s) => s.cpu)),
      others: Math.max(...list.map((s) => s.others)),
      runs: list.map(({ seconds, cpu, rss, others }) => ({ seconds, cpu, rss, others })),
    };
  };
  const buildInfoFile = path.join(path.dirname(ferryBin), "..", "BUILD-INFO");
  const build = existsSync(buildInfoFile)
    ? readFileSync(buildInfoFile, "utf8").trim().split("\n").join(", ")
    : undefined;
  return {
    label: options.tag ? `${label}-${options.tag}` : label,
    ferry: ferryBin,
    build,
    options: { size: options.size, reps: options.reps, seed: options.seed },
    machine,
    data: {
      dir: dataDir,
      images: data.images.length,
      blobs: data.blobs.length,
      bytes: data.bytes,
      imageBytes: data.imageBytes,
      bundleBytes,
    },
    pageCache: cacheWarm
      ? "warm: source data read once before timing; the bundle is read right after it was written"
      : `maybe partly cold: ${machine.memoryGiB} GiB RAM for ${(cacheNeeds / GiB).toFixed(1)} GiB of data + bundle`,
    results: Object.fromEntries(
      [
        "openssl-source",
        "ferry-save",
        "skopeo-copy",
        "openssl-bundle",
        "ferry-verify",
        "ferry-load",
        "dd-fdatasync",
      ].map((name) => [name, pick(name)]),
    ),
  };
}

// ---------------------------------------------------------------- report

function compare(report) {
  const r = report.results;
  const dataBytes = report.data.bytes;
  const bundleBytes = report.data.bundleBytes;
  const rows = [];
  const row = (operation, ferry, peerName, peer, bytes, target) => {
    if (!ferry) return;
    const ratio = peer ? ferry.seconds / peer.seconds : undefined;
    let verdict = "info";
    if (target && ratio !== undefined) verdict = target.pass(ratio) ? "PASS" : "FAIL";
    else if (target) verdict = "n/a";
    rows.push({
      operation,
      ferrySeconds: ferry.seconds,
      ferryCpu: ferry.cpu,
      ferryGBs: bytes / ferry.seconds / 1e9,
      peer: peerName,
      peerSeconds: peer?.seconds,
      peerCpu: peer?.cpu,
      peerGBs: peer ? bytes / peer.seconds / 1e9 : undefined,
      ratio,
      bestRatio: peer ? ferry.min / peer.min : undefined,
      target: target?.text ?? "-",
      verdict,
    });
  };
  row("save", r["ferry-save"], "skopeo copy oci: oci: (3 images)", r["skopeo-copy"], dataBytes);
  row(
    "save",
    r["ferry-save"],
    "openssl dgst -sha256 (source blobs)",
    r["openssl-source"],
    dataBytes,
  );
  row(
    "verify",
    r["ferry-verify"],
    "openssl dgst -sha256 (bundle)",
    r["openssl-bundle"],
    bundleBytes,
    {
      text: "ferry/peer <= 1.25",
      pass: (ratio) => ratio <= 1.25,
    },
  );
  row("load", r["ferry-load"], "skopeo copy oci: oci: (3 images)", r["skopeo-copy"], dataBytes, {
    text: "ferry/peer <= 0.333 (3x faster)",
    pass: (ratio) => ratio <= 1 / 3,
  });
  row("load", r["ferry-load"], "openssl dgst -sha256 (bundle)", r["openssl-bundle"], dataBytes);
  row("load", r["ferry-load"], "dd bs=1M conv=fdatasync (bundle)", r["dd-fdatasync"], dataBytes);

  const limit = 150e6;
  const rss = ["ferry-save", "ferry-verify", "ferry-load"]
    .filter((name) => r[name])
    .map((name) => ({
      command: name.replace("-", " "),
      peakMB: r[name].rss / 1e6,
      target: "< 150 MB",
      verdict: r[name].rss < limit ? "PASS" : "FAIL",
    }));
  if (r["skopeo-copy"]) {
    rss.push({
      command: "skopeo copy",
      peakMB: r["skopeo-copy"].rss / 1e6,
      target: "-",
      verdict: "info",
    });
  }
  return { rows, rss };
}

const fmt = (value, digits = 2) => (value === undefined ? "-" : value.toFixed(digits));

function markdown(report, { rows, rss }) {
  const d = report.data;
  const lines = [];
  lines.push(
    `Data: ${d.images} images, ${d.blobs} unique blobs, ${(d.bytes / GiB).toFixed(2)} GiB (${d.bytes} bytes; ${(d.imageBytes / GiB).toFixed(2)} GiB counting the shared base per image); bundle ${d.bundleBytes} bytes.`,
  );
  lines.push(
    `Page cache: ${report.pageCache}. Wall seconds are the median of ${report.options.reps} run(s) (targets are judged on it; "best-of ratio" uses each side's fastest run); cpu s = user + system of the process; GB/s = 10^9 bytes/s over the unique blob bytes (the bundle's bytes for verify and its openssl row).`,
  );
  lines.push("");
  lines.push(
    "| ferry | s | cpu s | GB/s | peer | s | cpu s | GB/s | ferry/peer | best-of ratio | target | result |",
  );
  lines.push("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|");
  for (const row of rows) {
    lines.push(
      `| ${row.operation} | ${fmt(row.ferrySeconds)} | ${fmt(row.ferryCpu)} | ${fmt(row.ferryGBs)} | ${row.peer} | ${fmt(row.peerSeconds)} | ${fmt(row.peerCpu)} | ${fmt(row.peerGBs)} | ${fmt(row.ratio)} | ${fmt(row.bestRatio)} | ${row.target} | ${row.verdict} |`,
    );
  }
  lines.push("");
  lines.push("| peak RSS | MB | target | result |");
  lines.push("|---|---:|---|---|");
  for (const item of rss) {
    lines.push(`| ${item.command} | ${fmt(item.peakMB, 0)} | ${item.target} | ${item.verdict} |`);
  }
  const spread = Object.entries(report.results)
    .filter(([, v]) => v)
    .map(
      ([name, v]) => `${name} ${fmt(v.min)}-${fmt(v.max)} s (others ${fmt(v.others * 100, 0)}%)`,
    );
  lines.push("");
  lines.push(
    `Spread (min-max wall over ${report.options.reps} run(s); in brackets the most CPU the rest of the machine used during a run, as a share of all CPUs): ${spread.join(", ")}.`,
  );
  return lines.join("\n");
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const report = await run(options);
  const comparison = compare(report);
  const text = markdown(report, comparison);
  const m = report.machine;
  const header = [
    `ferry bench, ${report.label} (${new Date().toISOString()})`,
    `machine: nproc ${m.nproc}, ${m.cpu}${m.shaNi ? " (sha_ni)" : ""}, ${m.memoryGiB} GiB RAM, kernel ${m.kernel}, ${m.filesystem}`,
    `tools: node ${m.node}, ${m.skopeo}, ${m.openssl}; peak RSS by ${m.rssBy}`,
    `ferry: ${report.ferry}${report.build ? ` (${report.build})` : ""}`,
  ].join("\n");
  console.log(`\n${header}\n\n${text}`);
  const out = path.join(options.work, `results-${report.label}`);
  writeFileSync(`${out}.json`, JSON.stringify({ ...report, comparison }, null, 2));
  writeFileSync(`${out}.md`, `${header}\n\n${text}\n`);
  console.error(`\nwrote ${out}.md and ${out}.json`);
  const failed = [...comparison.rows, ...comparison.rss].some((item) => item.verdict === "FAIL");
  if (failed && options.strict) process.exitCode = 1;
}

main().catch((error) => {
  console.error(`bench: ${error.message}`);
  process.exitCode = 2;
});

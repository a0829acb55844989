#!/usr/bin/env node
// ferry benchmark: one table, all from one run on the same data (issues 2, 4 and 7). Generates
// ~1 GiB (or ~5 GiB with --big) of OCI image data (3 images sharing a base layer) plus a set of
// 60 small layers, puts both into a loopback `docker-registry`, then times, against the peer a
// user would pick and against the raw limits, with peak RSS:
//   save from the registry (empty and warm cache) vs skopeo copy docker:// oci: and curl|openssl;
//   the same through a proxy adding 50 ms per request, ferry --jobs 1/4/8 vs skopeo;
//   save from the OCI dir vs skopeo copy oci: oci: / oci: docker-archive: and openssl;
//   verify vs unzip + sha256sum -c and openssl; load into the store vs skopeo copy oci: oci: /
//   docker-archive: oci: and dd; load into a fresh registry vs skopeo copy oci: docker:// and curl.
// See bench/README.md.
//
// usage: node bench/bench.mjs --ferry BIN [--big] [--size BYTES] [--reps N] [--seed S]
//          [--work DIR] [--strict] [--no-skopeo] [--no-registry] [--only SECTION,...]
//          [--delay-ms 50] [--tag NAME] [--quiet-wait SECONDS]
// Run it through `bash bench/run.sh` (or `npm run bench`), which builds ferry and makes sure
// GNU time is there.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generate, parseSize } from "./gen-data.mjs";
import { startDelayProxy } from "./lib/delay-proxy.mjs";
import {
  hasCommand,
  machineInfo,
  measure,
  median,
  q,
  syncDisks,
  waitForQuiet,
  warmFiles,
} from "./lib/measure.mjs";
import {
  expectedFetchDigests,
  fetchedDigests,
  imageBlobs,
  writeFetchScript,
  writePushScript,
} from "./lib/raw.mjs";
import { hasRegistry, httpGet, startRegistry } from "./lib/registry.mjs";
import { compare, markdown } from "./lib/report.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
let ferryBin = path.join(repo, "bin", "ferry");
const GiB = 1024 ** 3;

export const SECTIONS = ["registry", "latency", "oci", "verify", "load", "load-registry"];

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const options = {
    size: GiB,
    reps: undefined,
    seed: "ferry",
    work: path.join(here, "work"),
    strict: false,
    skopeo: true,
    registry: true,
    big: false,
    ferry: undefined,
    tag: undefined,
    quietWait: 60,
    delayMs: 50,
    only: new Set(SECTIONS),
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
    else if (arg === "--no-registry") options.registry = false;
    else if (arg === "--ferry") options.ferry = path.resolve(value());
    else if (arg === "--tag") options.tag = value();
    else if (arg === "--quiet-wait") options.quietWait = Number(value());
    else if (arg === "--delay-ms") options.delayMs = Number(value());
    else if (arg === "--only") {
      options.only = new Set(value().split(","));
      for (const name of options.only) {
        if (!SECTIONS.includes(name)) throw new Error(`--only: ${name} is not one of ${SECTIONS}`);
      }
    } else if (arg === "-h" || arg === "--help") {
      console.log(
        `usage: bash bench/run.sh [--big] [--size BYTES|1GiB] [--reps N] [--seed S] [--work DIR] [--strict] [--no-skopeo] [--no-registry] [--only ${SECTIONS.join(",")}] [--delay-ms 50] [--worktree | --ferry BIN] [--tag NAME] [--quiet-wait SECONDS]`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  // Three repetitions (median reported) at 1 GiB; one at 5 GiB, where a run takes many minutes.
  options.reps ??= options.size > 2 * GiB ? 1 : 3;
  if (!Number.isInteger(options.reps) || options.reps < 1) throw new Error("--reps must be >= 1");
  if (!options.registry) {
    for (const name of ["registry", "latency", "load-registry"]) options.only.delete(name);
  }
  return options;
}

/**
 * A rough duration for a quiet 2-core machine, from runs of 128 MiB and 512 MiB on this machine
 * kind (busy ones, scaled down): per repetition about 60 s (start-up of ~30 commands, the 60
 * small layers, 50 ms per request) + 90 s per GiB (every row; the docker-archive rows write the
 * shared base three times), plus, once, 30 s per GiB to generate the data and fill the registry
 * when they are not reused.
 */
function estimateSeconds(options, reused) {
  const gib = options.size / GiB;
  return options.reps * (60 + 90 * gib) + (reused ? 0 : 30 * gib + 15);
}

const minutes = (seconds) =>
  seconds < 90 ? `${Math.round(seconds)} s` : `${(seconds / 60).toFixed(1)} min`;

// ---------------------------------------------------------------- helpers

/** The registry repository and tag for a bench ref (`localhost/ferry-bench/app1:1.0`). */
const repoOf = (prefix) => (ref) => {
  const at = ref.lastIndexOf(":");
  const name = ref.slice(0, at).replace(/^localhost\//, "");
  return { repo: prefix ? `${prefix}/${name}` : name, tag: ref.slice(at + 1) };
};

/** Files under `dir`, recursively (for warming the page cache). */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

/** The manifest digest a registry has under REPO:TAG, or undefined. */
async function registryDigest(url, repoName, tag) {
  const answer = await httpGet(`${url}/v2/${repoName}/manifests/${tag}`, {
    Accept:
      "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
  }).catch(() => undefined);
  return answer?.status === 200 ? answer.headers["docker-content-digest"] : undefined;
}

/** Check that a registry holds every image of `set` under its repo and tag. */
async function checkRegistry(url, set, what) {
  for (const image of set) {
    const digest = await registryDigest(url, image.repo, image.tag);
    if (digest !== image.manifest.digest) {
      throw new Error(`${what}: ${image.repo}:${image.tag} is ${digest} in the registry`);
    }
  }
}

/** Check an OCI layout (skopeo's output) lists `count` images. */
function checkLayout(dir, count, what) {
  const index = JSON.parse(readFileSync(path.join(dir, "index.json"), "utf8"));
  if (index.manifests.length !== count) {
    throw new Error(`${what}: ${index.manifests.length} images in ${dir}, want ${count}`);
  }
}

/** Check ferry's --json summary of a save lists the images with the digests of `set`. */
function checkSaved(stdout, set, what) {
  const saved = JSON.parse(stdout);
  const got = saved.images.map((image) => image.digest).sort();
  const want = set.map((image) => image.manifest.digest).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: saved ${got.join(", ")}; want ${want.join(", ")}`);
  }
  return saved;
}

/** sh -ec script running commands one after the other. */
const sequence = (commands) => commands.join("\n");

// ---------------------------------------------------------------- the source registry

/**
 * The registry the save rows read from: storage in bench/work/registry-<label>-<seed>/, filled
 * once (skopeo copy oci: docker://, else ferry save + load --to-registry) with both data sets and
 * reused by later runs while its marker matches.
 */
async function sourceRegistry(dir, sets, haveSkopeo, services) {
  const marker = path.join(dir, "populated.json");
  const want = JSON.stringify(
    sets.map((set) => set.images.map((image) => [image.repo, image.tag, image.manifest.digest])),
  );
  let registry = await startRegistry(dir, { keep: true });
  services.add(registry);
  if (existsSync(marker) && readFileSync(marker, "utf8") === want) {
    try {
      for (const set of sets) await checkRegistry(registry.url, set.images, "source registry");
      return { registry, reused: true };
    } catch {
      // fall through: fill it again
    }
  }
  await registry.stop();
  services.delete(registry);
  rmSync(dir, { recursive: true, force: true });
  registry = await startRegistry(dir, { keep: true });
  services.add(registry);
  const started = Date.now();
  for (const set of sets) {
    if (haveSkopeo) {
      for (const image of set.images) {
        const result = spawnSync(
          "skopeo",
          [
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            `oci:${set.layout}:${image.ref}`,
            `docker://${registry.host}/${image.repo}:${image.tag}`,
          ],
          { encoding: "utf8" },
        );
        if (result.status !== 0) throw new Error(`filling the registry: ${result.stderr}`);
      }
    } else {
      const bundle = path.join(dir, "fill.zip");
      for (const argv of [
        ["save", `oci:${set.layout}`, "-o", bundle, "-q"],
        [
          "load",
          bundle,
          "--to-registry",
          `${registry.host}${set.prefix ? `/${set.prefix}` : ""}`,
          "--cache",
          path.join(dir, "fill-cache"),
          "-q",
        ],
      ]) {
        const result = spawnSync(process.execPath, [ferryBin, ...argv], { encoding: "utf8" });
        if (result.status !== 0) throw new Error(`filling the registry: ${result.stderr}`);
      }
      rmSync(bundle, { force: true });
      rmSync(path.join(dir, "fill-cache"), { recursive: true, force: true });
    }
    await checkRegistry(registry.url, set.images, "source registry");
  }
  writeFileSync(marker, want);
  console.error(`  filled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { registry, reused: false };
}

// ---------------------------------------------------------------- the run

async function run(options, services) {
  if (options.ferry) ferryBin = options.ferry;
  else if (!existsSync(path.join(repo, "dist", "cli", "main.js"))) {
    throw new Error("ferry is not built: run `npm run build` (or `npm run bench`)");
  }
  const haveSkopeo = options.skopeo && hasCommand("skopeo");
  const haveOpenssl = hasCommand("openssl");
  const haveCurl = hasCommand("curl");
  const haveUnzip = hasCommand("unzip") && hasCommand("sha256sum");
  const registryRows = ["registry", "latency", "load-registry"].some((s) => options.only.has(s));
  if (registryRows && !hasRegistry()) {
    console.error("bench: docker-registry is missing: the registry rows stay empty");
    for (const name of ["registry", "latency", "load-registry"]) options.only.delete(name);
  }
  const wants = (section) => options.only.has(section);
  const label =
    options.size >= GiB
      ? `${Math.round((options.size / GiB) * 100) / 100}GiB`
      : `${Math.round(options.size / 1024 ** 2)}MiB`;
  const work = options.work;
  const dataDir = path.join(work, `data-${label}-${options.seed}`, "oci");
  const manyDir = path.join(work, `data-many-small-${options.seed}`, "oci");
  const runDir = path.join(work, `run-${label}`);
  const bundle = path.join(runDir, "bundle.zip");
  const fresh = (name) => {
    const dir = path.join(runDir, name);
    rmSync(dir, { recursive: true, force: true });
    return dir;
  };
  const freshDir = (name) => {
    const dir = fresh(name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });

  const machine = machineInfo(work);
  console.error(
    `machine: ${machine.nproc} x ${machine.cpu}${machine.shaNi ? " (SHA-NI)" : ""}, ${machine.memoryGiB} GiB RAM, node ${machine.node}, ${machine.skopeo}, ${machine.openssl}, ${machine.curl}, docker-registry ${machine.registry}, ${machine.filesystem}`,
  );
  const reusable =
    existsSync(path.join(dataDir, ".ferry-bench.json")) &&
    existsSync(path.join(work, `registry-${label}-${options.seed}`, "populated.json"));
  const estimate = estimateSeconds(options, reusable);
  console.error(
    `estimated duration: about ${minutes(estimate)} on a quiet 2-core machine (${options.reps} repetition(s) of every row${reusable ? "" : ", plus generating the data and filling the registry"}); a busy machine adds up to --quiet-wait ${options.quietWait} s per step`,
  );
  const runStarted = Date.now();

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
  const setA = { layout: dataDir, prefix: "", images: imageBlobs(dataDir, data.images, repoOf()) };

  let many;
  let setB;
  if (wants("registry") || wants("latency")) {
    many = await generate(manyDir, { shape: "many-small", seed: options.seed });
    console.error(
      `  small-layer set in ${manyDir}: ${many.blobs.length} blobs, ${many.bytes} bytes${many.reused ? " (reused)" : ""}`,
    );
    setB = {
      layout: manyDir,
      prefix: "many",
      images: imageBlobs(manyDir, many.images, repoOf("many")),
    };
  }

  // ------------------------------------------------ servers: source registry, delay proxy
  let source;
  let proxy;
  if (wants("registry") || wants("latency")) {
    const dir = path.join(work, `registry-${label}-${options.seed}`);
    console.error(`source registry (storage in ${dir}) ...`);
    const opened = await sourceRegistry(dir, [setA, setB], haveSkopeo, services);
    source = opened.registry;
    console.error(`  ${source.host}${opened.reused ? " (reused its storage)" : ""}`);
    if (wants("latency")) {
      proxy = await startDelayProxy(source.host, options.delayMs);
      services.add(proxy);
      console.error(`  delay proxy ${proxy.host}: +${options.delayMs} ms per request`);
    }
  }
  const fetchScript = writeFetchScript(path.join(runDir, "curl-fetch.sh"), setA.images);
  const pushScript = writePushScript(path.join(runDir, "curl-push.sh"), setA.images);

  const cacheNeeds = data.bytes * (wants("registry") || wants("latency") ? 3 : 2);
  const cacheWarm = os.totalmem() > cacheNeeds * 1.5;
  console.error("warming the page cache (reading the source data once) ...");
  warmFiles(blobFiles);
  if (source) warmFiles(filesUnder(path.join(source.dir, "data")));
  syncDisks();

  const samples = {};
  const commands = {};
  const add = (name, result) => {
    samples[name] ??= [];
    samples[name].push(result);
  };
  let bundleBytes = 0;
  const log = (name, result) =>
    console.error(
      `  ${name.padEnd(22)} ${result.seconds.toFixed(2).padStart(6)} s wall ${result.cpu.toFixed(2).padStart(6)} s cpu ${(result.rss / 1e6).toFixed(0).padStart(5)} MB peak RSS   others busy ${(result.others * 100).toFixed(0).padStart(3)}%${result.requests !== undefined ? `   ${result.requests} requests` : ""}`,
    );
  /**
   * Time one command: `prepare` (untimed: fresh targets, servers), sync, wait for a quiet
   * machine, measure, then `check` the output (untimed) and `after` (clean up).
   */
  const step = async (name, command, args, { prepare, check, after, servers } = {}) => {
    const context = (await prepare?.()) ?? {};
    const argv = typeof args === "function" ? args(context) : args;
    commands[name] ??= argv[0] === "-ec" ? argv[1] : [command, ...argv].join(" ");
    syncDisks();
    await waitForQuiet(options.quietWait);
    if (proxy) await proxy.requests(); // reset the count
    const result = await measure(command, argv, {
      servers: [...(servers?.(context) ?? []), ...(context.servers ?? [])],
    });
    if (proxy && name.includes("lat-")) result.requests = await proxy.requests();
    await check?.(result, context);
    await after?.(context);
    add(name, result);
    log(name, result);
    return result;
  };
  const ferry = (...argv) => [ferryBin, ...argv];
  const node = process.execPath;
  const sh = (script) => ["-ec", script];

  // A fresh, empty registry per run for the load-into-a-registry rows.
  const freshRegistry = async () => {
    const registry = await startRegistry(fresh("registry-dest"));
    services.add(registry);
    return { registry, servers: [registry.pid] };
  };
  const dropRegistry = async ({ registry }) => {
    await registry.stop();
    services.delete(registry);
  };

  /** ferry save from the registry at `host` into a fresh bundle and cache. */
  /** Outputs kept for the next step (the warm-cache save reads blobs from the bundle before). */
  const keptOutputs = [];
  const registrySave = (name, set, host, extra = [], { cache, keepOutput = false } = {}) =>
    step(
      name,
      node,
      (context) =>
        ferry(
          "save",
          ...set.images.map((image) => `${host}/${image.repo}:${image.tag}`),
          "-o",
          context.out,
          "--cache",
          context.cache,
          "--json",
          ...extra,
        ),
      {
        prepare: () => ({
          // Its own folder per step: the warm save must not remove the cold one's bundle.
          out: path.join(freshDir(`reg-save-${name}`), "b.zip"),
          cache: cache ?? fresh("cache"),
        }),
        servers: () => [source.pid, ...(host === source.host ? [] : [proxy.pid])],
        check: (result) => checkSaved(result.stdout, set.images, name),
        after: (context) => {
          if (keepOutput) keptOutputs.push(path.dirname(context.out));
          else rmSync(path.dirname(context.out), { recursive: true, force: true });
          if (!cache) rmSync(context.cache, { recursive: true, force: true });
        },
      },
    );
  /**
   * A step of `skopeo copy` runs in sequence, each [from, ref] into the fresh OCI layout
   * `outName` as `ref`; the layout is checked to hold them all (`what` names the copy), then
   * removed.
   */
  const skopeoIntoLayout = (name, copies, outName, what, servers) =>
    step(
      name,
      "sh",
      (context) =>
        sh(
          sequence(
            copies.map(([from, ref]) => `skopeo copy --quiet ${from} oci:${q(context.out)}:${ref}`),
          ),
        ),
      {
        prepare: () => ({ out: fresh(outName) }),
        servers,
        check: (_result, context) => checkLayout(context.out, copies.length, what),
        after: (context) => rmSync(context.out, { recursive: true, force: true }),
      },
    );
  /** skopeo copy docker:// oci: of a set's 3 images into one fresh layout. */
  const skopeoPull = (name, set, host) =>
    skopeoIntoLayout(
      name,
      set.images.map((image) => [
        `--src-tls-verify=false docker://${host}/${image.repo}:${image.tag}`,
        `${image.repo}:${image.tag}`,
      ]),
      "skopeo-pull",
      name,
      () => [source.pid, ...(host === source.host ? [] : [proxy.pid])],
    );

  for (let rep = 1; rep <= options.reps; rep++) {
    const repStarted = Date.now();
    console.error(`repetition ${rep}/${options.reps}`);

    // ------------------------------------------------ save from a loopback registry (issue 4)
    if (wants("registry")) {
      warmFiles(filesUnder(path.join(source.dir, "data")));
      const cache = fresh("cache-warm");
      // The cold save's bundle stays for the warm one: its cache points into it (no copies).
      await registrySave("ferry-save-registry", setA, source.host, [], { cache, keepOutput: true });
      await registrySave("ferry-save-registry-warm", setA, source.host, [], { cache });
      rmSync(cache, { recursive: true, force: true });
      for (const dir of keptOutputs.splice(0)) rmSync(dir, { recursive: true, force: true });
      if (haveSkopeo) await skopeoPull("skopeo-pull", setA, source.host);
      if (haveCurl && haveOpenssl) {
        const want = JSON.stringify(expectedFetchDigests(setA.images));
        for (const [name, jobs, keep] of [
          ["curl-openssl-4", 4, false],
          ["curl-openssl-1", 1, false],
          // The same, each blob also written to a file, then the file system synced: the
          // floor for a save, which must keep the bytes.
          ["curl-tee-openssl-4", 4, true],
        ]) {
          await step(
            name,
            "sh",
            (context) => [fetchScript, source.url, String(jobs), ...(keep ? [context.out] : [])],
            {
              prepare: () => (keep ? { out: freshDir("curl-tee") } : {}),
              servers: () => [source.pid],
              check: (result) => {
                if (JSON.stringify(fetchedDigests(result.stdout)) !== want) {
                  throw new Error(`${name}: the digests do not match the blobs`);
                }
              },
              after: (context) => {
                if (context.out) rmSync(context.out, { recursive: true, force: true });
              },
            },
          );
        }
      }
      // The small-layer set without the proxy: the baseline for its latency rows.
      await registrySave("many-ferry", setB, source.host);
      if (haveSkopeo) await skopeoPull("many-skopeo", setB, source.host);
    }

    // ------------------------------------------------ through a proxy adding 50 ms per request
    if (wants("latency")) {
      for (const [prefix, set] of [
        ["lat", setA],
        ["many-lat", setB],
      ]) {
        for (const jobs of [1, 4, 8]) {
          await registrySave(
            `${prefix}-ferry-j${jobs}`,
            set,
            proxy.host,
            jobs === 4 ? [] : ["--jobs", String(jobs)],
          );
        }
        if (haveSkopeo) await skopeoPull(`${prefix}-skopeo`, set, proxy.host);
      }
    }

    // ------------------------------------------------ save from an OCI dir
    const needBundle = wants("oci") || wants("verify") || wants("load") || wants("load-registry");
    if (needBundle) {
      warmFiles(blobFiles);
      if (haveOpenssl && wants("oci")) {
        await step("openssl-source", "openssl", ["dgst", "-sha256", ...blobFiles]);
      }
      await step("ferry-save", node, ferry("save", `oci:${dataDir}`, "-o", bundle, "--json"), {
        prepare: () => rmSync(bundle, { force: true }),
        check: (result) => {
          const saved = checkSaved(result.stdout, setA.images, "ferry save oci:");
          if (saved.bytes !== data.bytes) throw new Error(`ferry save wrote ${saved.bytes} bytes`);
        },
      });
      bundleBytes = statSync(bundle).size;
      if (haveSkopeo && (wants("oci") || wants("load"))) {
        // The same 3 images into one fresh layout, one skopeo copy each, in sequence (the
        // shared base layer is then copied once, as ferry does).
        await skopeoIntoLayout(
          "skopeo-copy",
          refs.map((ref) => [`oci:${q(dataDir)}:${ref}`, ref]),
          "skopeo-copy-dest",
          "skopeo copy",
        );
      }
    }

    // ------------------------------------------------ verify
    if (wants("verify")) {
      warmFiles([bundle]);
      if (haveOpenssl) await step("openssl-bundle", "openssl", ["dgst", "-sha256", bundle]);
      await step("ferry-verify", node, ferry("verify", bundle, "--json"), {
        check: (result) => {
          if (!JSON.parse(result.stdout).ok) throw new Error("ferry verify found problems");
        },
      });
      if (haveUnzip) {
        await step(
          "unzip-sha256sum",
          "sh",
          (context) =>
            sh(
              `unzip -q ${q(bundle)} -d ${q(context.out)}\ncd ${q(context.out)}\nsha256sum -c --quiet --strict SHA256SUMS`,
            ),
          {
            prepare: () => ({ out: fresh("unzipped") }),
            after: (context) => rmSync(context.out, { recursive: true, force: true }),
          },
        );
      }
    }

    // ------------------------------------------------ load into the store
    if (wants("load")) {
      warmFiles([bundle]);
      await step(
        "ferry-load",
        node,
        (context) => ferry("load", bundle, "--store", context.store, "--json"),
        {
          prepare: () => ({ store: fresh("store") }),
          check: (result) => {
            const loaded = JSON.parse(result.stdout);
            const want = new Map(data.images.map((image) => [image.ref, image.digest]));
            for (const image of loaded.images) {
              if (want.get(image.ref) !== image.digest) {
                throw new Error(`ferry load: ${image.ref} has digest ${image.digest}`);
              }
            }
            if (loaded.images.length !== refs.length) throw new Error("ferry load: too few images");
          },
          after: (context) => rmSync(context.store, { recursive: true, force: true }),
        },
      );
      // The disk's write floor for the same bytes: what any load has to pay.
      const ddTarget = path.join(runDir, "dd-copy");
      await step(
        "dd-fdatasync",
        "dd",
        [`if=${bundle}`, `of=${ddTarget}`, "bs=1M", "conv=fdatasync", "status=none"],
        { prepare: () => rmSync(ddTarget, { force: true }), after: () => rmSync(ddTarget) },
      );
    }

    // ------------------------------------------------ docker-archive: save, then load (skopeo)
    const archives = path.join(runDir, "archives");
    const archiveOf = (ref) => path.join(archives, `${ref.split("/").pop().replace(":", "-")}.tar`);
    if (haveSkopeo && (wants("oci") || wants("load"))) {
      warmFiles(blobFiles);
      // skopeo writes one image per docker-archive (--additional-tag only names that image),
      // so 3 archives, each carrying the shared base layer.
      await step(
        "skopeo-archive-save",
        "sh",
        sh(
          sequence(
            refs.map(
              (ref) =>
                `skopeo copy --quiet oci:${q(dataDir)}:${ref} docker-archive:${q(archiveOf(ref))}:${ref}`,
            ),
          ),
        ),
        {
          prepare: () => {
            rmSync(archives, { recursive: true, force: true });
            mkdirSync(archives, { recursive: true });
          },
        },
      );
      if (wants("load")) {
        warmFiles(refs.map(archiveOf));
        await skopeoIntoLayout(
          "skopeo-archive-load",
          refs.map((ref) => [`docker-archive:${q(archiveOf(ref))}`, ref]),
          "skopeo-archive-load-dest",
          "docker-archive",
        );
      }
      rmSync(archives, { recursive: true, force: true });
    }

    // ------------------------------------------------ load into a registry (a fresh one each run)
    if (wants("load-registry")) {
      warmFiles([bundle, ...blobFiles]);
      await step(
        "ferry-load-registry",
        node,
        (context) =>
          ferry(
            "load",
            bundle,
            "--to-registry",
            context.registry.host,
            "--cache",
            context.cache,
            "--json",
          ),
        {
          prepare: async () => ({ ...(await freshRegistry()), cache: fresh("cache") }),
          check: (_result, context) =>
            checkRegistry(context.registry.url, setA.images, "ferry load --to-registry"),
          after: async (context) => {
            await dropRegistry(context);
            rmSync(context.cache, { recursive: true, force: true });
          },
        },
      );
      if (haveSkopeo) {
        await step(
          "skopeo-push",
          "sh",
          (context) =>
            sh(
              sequence(
                setA.images.map(
                  (image) =>
                    `skopeo copy --quiet --dest-tls-verify=false oci:${q(dataDir)}:${image.ref} docker://${context.registry.host}/${image.repo}:${image.tag}`,
                ),
              ),
            ),
          {
            prepare: freshRegistry,
            check: (_result, context) =>
              checkRegistry(context.registry.url, setA.images, "skopeo copy docker://"),
            after: dropRegistry,
          },
        );
      }
      if (haveCurl) {
        await step("curl-push", "sh", (context) => [pushScript, context.registry.url, "4"], {
          prepare: freshRegistry,
          check: (_result, context) =>
            checkRegistry(context.registry.url, setA.images, "curl push"),
          after: dropRegistry,
        });
      }
    }

    const repSeconds = (Date.now() - repStarted) / 1000;
    if (rep < options.reps) {
      console.error(
        `repetition ${rep} took ${minutes(repSeconds)}; the other ${options.reps - rep} about ${minutes(repSeconds * (options.reps - rep))} more`,
      );
    }
  }
  rmSync(runDir, { recursive: true, force: true });

  const pick = (name) => {
    const list = samples[name];
    if (!list) return undefined;
    const requests = list.map((s) => s.requests).filter((n) => n !== undefined);
    return {
      seconds: median(list.map((s) => s.seconds)),
      min: Math.min(...list.map((s) => s.seconds)),
      max: Math.max(...list.map((s) => s.seconds)),
      rss: Math.max(...list.map((s) => s.rss)),
      cpu: median(list.map((s) => s.cpu)),
      serverCpu: median(list.map((s) => s.serverCpu)),
      others: Math.max(...list.map((s) => s.others)),
      ...(requests.length ? { requests: median(requests) } : {}),
      command: commands[name],
      runs: list.map(({ seconds, cpu, rss, others, serverCpu }) => ({
        seconds,
        cpu,
        rss,
        others,
        serverCpu,
      })),
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
    seconds: (Date.now() - runStarted) / 1000,
    estimatedSeconds: estimate,
    options: {
      size: options.size,
      reps: options.reps,
      seed: options.seed,
      delayMs: options.delayMs,
      sections: [...options.only],
    },
    machine,
    data: {
      dir: dataDir,
      images: data.images.length,
      blobs: data.blobs.length,
      bytes: data.bytes,
      imageBytes: data.imageBytes,
      bundleBytes,
      ...(many ? { many: { dir: manyDir, blobs: many.blobs.length, bytes: many.bytes } } : {}),
      manyBlobs: many?.blobs.length,
    },
    pageCache: cacheWarm
      ? "warm: each section's inputs read once (untimed) before its steps"
      : `maybe partly cold: ${machine.memoryGiB} GiB RAM for ${(cacheNeeds / GiB).toFixed(1)} GiB of data, registry and bundle`,
    results: Object.fromEntries(Object.keys(samples).map((name) => [name, pick(name)])),
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const options = parseArgs(process.argv.slice(2));
  // Registries and the proxy this run started: stopped on the way out, whatever happens.
  const services = new Set();
  const stopAll = async () => {
    for (const service of services) await service.stop().catch(() => {});
    services.clear();
  };
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      stopAll().finally(() => process.exit(130));
    });
  }
  let report;
  try {
    report = await run(options, services);
  } finally {
    await stopAll();
  }
  const comparison = compare(report);
  const text = markdown(report, comparison);
  const m = report.machine;
  const header = [
    `ferry bench, ${report.label} (${new Date().toISOString()}, ${minutes(report.seconds)})`,
    `machine: nproc ${m.nproc}, ${m.cpu}${m.shaNi ? " (sha_ni)" : ""}, ${m.memoryGiB} GiB RAM, kernel ${m.kernel}, ${m.filesystem}`,
    `tools: node ${m.node}, ${m.skopeo}, ${m.openssl}, ${m.curl}, docker-registry ${m.registry}; peak RSS by ${m.rssBy}`,
    `ferry: ${report.ferry}${report.build ? ` (${report.build})` : ""}`,
  ].join("\n");
  console.log(`\n${header}\n\n${text}`);
  const out = path.join(options.work, `results-${report.label}`);
  writeFileSync(`${out}.json`, JSON.stringify({ ...report, comparison }, null, 2));
  writeFileSync(`${out}.md`, `${header}\n\n${text}\n`);
  console.error(`\nwrote ${out}.md and ${out}.json`);
  const failed = comparison.rows.some((row) => row.verdict.includes("FAIL"));
  if (failed && options.strict) process.exitCode = 1;
}

main().catch((error) => {
  console.error(`bench: ${error.message}`);
  process.exitCode = 2;
});

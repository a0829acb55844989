/**
 * Issue 7, crashes during a push: `ferry load BUNDLE --to-registry` into the real distribution
 * registry, killed with SIGKILL at seeded points spread over a measured unkilled push (about two
 * thirds before the engine's commit event, the rest from the commit on). Each trial pushes
 * into its own namespace of one registry with its own empty cache (so nothing is mounted from
 * an earlier trial's hints). After each kill, every tag the registry shows names the
 * bundle's manifest digest and every blob that manifest needs is there: a tag never points
 * at a half-pushed image. The same push then completes. FERRY_STRESS=full runs 60 trials.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ferryJson, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import {
  OCI_INDEX,
  OCI_MANIFEST,
  type RunningRegistry,
  startRegistry,
} from "../helpers/registry.js";
import { Rng, STRESS_FULL, stressFile } from "../helpers/seeded.js";
import { saveLayout } from "../helpers/stress-bundles.js";
import { describeKill, killPlan, type Run, runFerry } from "./kill-lib.js";

const FULL = STRESS_FULL;
const { seed: SEED, timeout: TIMEOUT } = stressFile();
const TRIALS = FULL ? 60 : 20;
const MiB = 1024 * 1024;
const REFS = [1, 2, 3].map((n) => `stress.example/big:${n}`);

interface PushJson {
  images: Array<{ source: string; target: string; digest: string }>;
}

interface Manifest {
  config: { digest: string };
  layers: Array<{ digest: string }>;
}

describe("a push killed with SIGKILL at any instant", () => {
  const work = tempDir();
  const bundle = path.join(work.dir, "big.zip");
  let registry: RunningRegistry;
  let unkilled: Run;
  /** Image ref in the bundle -> its manifest digest, and its repository and tag below the namespace. */
  const expected = new Map<string, { digest: string; repository: string; tag: string }>();

  const push = (namespace: string, kill?: Parameters<typeof runFerry>[1]) =>
    runFerry(["load", bundle, "--to-registry", `${registry.host}/${namespace}`, "-q"], kill, {
      FERRY_CACHE: path.join(work.dir, `cache-${namespace}`),
    });

  /** Problems with what the registry shows under `namespace` (none: consistent). */
  async function inconsistencies(
    namespace: string,
  ): Promise<{ tagged: number; problems: string[] }> {
    const problems: string[] = [];
    let tagged = 0;
    for (const [ref, { digest: wanted, repository: below, tag }] of expected) {
      const repository = `${namespace}/${below}`;
      const response = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
        headers: { accept: [OCI_MANIFEST, OCI_INDEX].join(", ") },
      });
      if (response.status === 404) continue;
      tagged++;
      const digest = response.headers.get("docker-content-digest");
      if (digest !== wanted) {
        problems.push(`${repository}:${tag} names ${digest}, the bundle's ${ref} is ${wanted}`);
        continue;
      }
      const manifest = (await response.json()) as Manifest;
      for (const blob of [manifest.config, ...manifest.layers]) {
        const head = await fetch(`${registry.url}/v2/${repository}/blobs/${blob.digest}`, {
          method: "HEAD",
        });
        if (head.status !== 200) {
          problems.push(`${repository}:${tag} is tagged but blob ${blob.digest} is ${head.status}`);
        }
      }
    }
    return { tagged, problems };
  }

  beforeAll(async () => {
    registry = await startRegistry();
    const layoutDir = path.join(work.dir, "layout");
    const layout = createLayout(layoutDir);
    const base = randomLayer(8 * MiB);
    for (const ref of REFS)
      layout.tag(ref, layout.image({ layers: [base, randomLayer(16 * MiB)] }));
    layout.finish();
    await saveLayout(layoutDir, bundle);
    const measured = ferryJson<PushJson>([
      "load",
      bundle,
      "--to-registry",
      `${registry.host}/measure`,
    ]);
    expect(measured.code).toBe(0);
    const prefix = `${registry.host}/measure/`;
    for (const image of measured.json.images) {
      expect(image.target.startsWith(prefix), image.target).toBe(true);
      const below = image.target.slice(prefix.length);
      const colon = below.lastIndexOf(":");
      expected.set(image.source, {
        digest: image.digest,
        repository: below.slice(0, colon),
        tag: below.slice(colon + 1),
      });
    }
    expect([...expected.keys()].sort()).toEqual(REFS);
    unkilled = await push("measure-again");
    expect(unkilled.code).toBe(0);
  }, 300_000);
  afterAll(async () => {
    await registry?.stop();
    work.cleanup();
  });

  it(
    `${TRIALS} kills spread over a measured push; no tag names an incomplete image, the re-run completes`,
    async () => {
      expect(unkilled.commitAt, "no commit event on stderr (FERRY_PROGRESS=json)").toBeDefined();
      const rng = new Rng(SEED).fork("push-kills");
      const rows: string[] = [];
      let tagsSeen = 0;
      for (const [trial, kill] of killPlan(rng, TRIALS, unkilled).entries()) {
        const namespace = `t${trial}`;
        const killed = await push(namespace, kill);
        const what = `trial ${trial} (kill at ${describeKill(kill)})`;
        const after = await inconsistencies(namespace);
        expect(after.problems, what).toEqual([]);
        tagsSeen += after.tagged;
        const again = await push(namespace);
        expect(again.code, `${what}: the same push did not complete`).toBe(0);
        const done = await inconsistencies(namespace);
        expect(done.problems, what).toEqual([]);
        expect(done.tagged, what).toBe(REFS.length);
        rows.push(
          `| ${trial} | ${describeKill(kill)} | ${killed.finishedFirst ? "finished first" : `killed at ${killed.killedAt} ms`} | ${after.tagged} | ${again.ms} |`,
        );
      }
      console.log(
        [
          `push kills (seed ${SEED}): unkilled push ${unkilled.ms} ms, commit event at ${unkilled.commitAt} ms; ${tagsSeen} tag(s) already there after kills, all complete`,
          "| trial | kill planned | result | tags after the kill | re-run ms |",
          "|---:|---|---|---:|---:|",
          ...rows,
        ].join("\n"),
      );
    },
    TIMEOUT,
  );
});

/**
 * ferry serve pulled by the real clients a user has: skopeo, containerd's ctr and the Docker
 * engine, each getting the manifest (or index) digests the bundle records. The daemons start
 * here as root (test/helpers/serve-clients.ts); where one cannot, its tests say why, loudly, and
 * skip (never in CI).
 */

import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, tempDir } from "../helpers/cli.js";
import {
  ctrImageDigests,
  daemonSkipReason,
  startContainerd,
  startDockerd,
  warnSkipped,
} from "../helpers/serve-clients.js";
import { NAMES, type ServedStore, servedStore } from "./fixture.js";
import { sha256 } from "./http-client.js";
import { type ServeProcess, startServe } from "./serve-process.js";

/** What each client pulls: the name it asks for, and the bundle's reference it must match. */
const PULLS: Array<[string, string]> = [
  ["library/alpine:3.19", NAMES.alpine],
  ["example.com/team/app:1.0", NAMES.app],
  ["windows/nanoserver:ltsc2022", NAMES.nanoserver],
  ["tools:1", NAMES.tools],
  ["example.com/team/legacy:2", NAMES.legacy],
];

describe("ferry serve pulled by skopeo, ctr and docker", () => {
  const tmp = tempDir("ferry-serve-clients-");
  let fixture: ServedStore;
  let serve: ServeProcess;

  beforeAll(async () => {
    fixture = await servedStore(tmp.dir);
    serve = await startServe(fixture.store, ["-q"]);
  }, 180_000);
  afterAll(async () => {
    await serve?.stop();
    tmp.cleanup();
  });

  it("skopeo copy gets every image with the bundle's digest, indexes and lists kept whole", () => {
    for (const [name, stored] of PULLS) {
      // dir: keeps every manifest as served (an OCI layout cannot hold a Docker list unchanged).
      const dir = path.join(tmp.dir, "skopeo", name.replace(/[/:]/g, "_"));
      mkdirSync(dir, { recursive: true });
      const copied = run("skopeo", [
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        `docker://${serve.host}/${name}`,
        `dir:${dir}`,
      ]);
      expect(copied.code, copied.stderr).toBe(0);
      const top = readFileSync(path.join(dir, "manifest.json"));
      expect(sha256(top), name).toBe(fixture.digests[stored]);
      const children = (JSON.parse(top.toString()) as { manifests?: Array<{ digest: string }> })
        .manifests;
      for (const child of children ?? []) {
        const file = path.join(dir, `${child.digest.slice("sha256:".length)}.manifest.json`);
        expect(sha256(readFileSync(file)), `${name} ${child.digest}`).toBe(child.digest);
      }
      if (stored === NAMES.app || stored === NAMES.legacy) expect(children).toHaveLength(2);
    }
  }, 180_000);

  const containerdSkip = daemonSkipReason("containerd");
  warnSkipped("ctr images pull from ferry serve", containerdSkip);
  it.skipIf(containerdSkip !== undefined)(
    "ctr images pull --plain-http: each image listed with the bundle's digest (the index for multi-platform)",
    async () => {
      const engine = await startContainerd();
      try {
        for (const [name] of PULLS) {
          await engine.ctr("k8s.io", [
            "images",
            "pull",
            "--plain-http",
            "--all-platforms",
            `${serve.host}/${name}`,
          ]);
        }
        const listed = await ctrImageDigests(engine, "k8s.io");
        for (const [name, stored] of PULLS) {
          expect(listed.get(`${serve.host}/${name}`), name).toBe(fixture.digests[stored]);
        }
        // Every platform's content came: ctr can export the whole index again.
        await engine.ctr("k8s.io", [
          "images",
          "export",
          "--all-platforms",
          path.join(tmp.dir, "ctr-app.tar"),
          `${serve.host}/example.com/team/app:1.0`,
        ]);
      } finally {
        await engine.stop();
      }
    },
    300_000,
  );

  const dockerSkip = daemonSkipReason("dockerd");
  warnSkipped("docker pull from ferry serve", dockerSkip);
  it.skipIf(dockerSkip !== undefined)(
    "docker pull 127.0.0.1:PORT/...: repo digest is the bundle's, image ID its config digest",
    async () => {
      const engine = await startDockerd();
      try {
        for (const [name, stored] of PULLS) {
          const reference = `${serve.host}/${name}`;
          const pulled = await engine.docker(["pull", reference]);
          expect(pulled, name).toContain(`Digest: ${fixture.digests[stored]}`);
          const [repoDigests, id] = (
            await engine.docker([
              "image",
              "inspect",
              "--format",
              "{{json .RepoDigests}} {{.Id}}",
              reference,
            ])
          )
            .trim()
            .split(" ");
          const repository = reference.slice(0, reference.lastIndexOf(":"));
          expect(JSON.parse(repoDigests as string), name).toEqual([
            `${repository}@${fixture.digests[stored]}`,
          ]);
          if (stored === NAMES.alpine) expect(id).toBe(fixture.alpine.blobs[0]);
          if (stored === NAMES.app) expect(id).toBe(fixture.appChildren[0]?.blobs[0]);
          if (stored === NAMES.legacy) expect(id).toBe(fixture.dockerChild.blobs[0]);
        }
      } finally {
        await engine.stop();
      }
    },
    300_000,
  );
});

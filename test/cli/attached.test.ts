/**
 * What is attached to images crosses the gap with them (issue 16), against the real
 * distribution registry (2.8: no referrers API, so referrers live in the fallback tag
 * `sha256-<hex>`): a cosign signature made exactly as cosign makes one, an SBOM referrer with
 * `subject`, a signature on that SBOM; save → verify → load --to-registry, byte-exact, and
 * the signature still checks with openssl on the far side.
 */

import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  digestTag,
  makeBuildxIndex,
  makeCosignSignature,
  makeReferrer,
  makeReferrersIndex,
  makeSigningKey,
  type SigningKey,
  SPDX,
} from "../helpers/attached.js";
import { ferryAsync, homeEnv, jsonOutput, loadToRegistry, run, tempDir } from "../helpers/cli.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import {
  makeImage,
  OCI_INDEX,
  pushImage,
  type RunningRegistry,
  sha256,
  startRegistry,
  type TestImage,
} from "../helpers/registry.js";

interface Attached {
  digest: string;
  subject: string;
  foundBy: string;
  kind: string;
  tag?: string;
  artifactType?: string;
  mediaType: string;
  size: number;
}

/** A manifest as a registry serves it: status, bytes, content type. */
async function getManifest(
  registryUrl: string,
  repository: string,
  reference: string,
): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, {
    headers: {
      Accept: [
        "application/vnd.oci.image.manifest.v1+json",
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
      ].join(", "),
    },
  });
  return {
    status: response.status,
    bytes: Buffer.from(await response.arrayBuffer()),
    type: response.headers.get("content-type"),
  };
}

async function getBlob(registryUrl: string, repository: string, digest: string): Promise<Buffer> {
  const response = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

describe("attached artifacts cross the gap (CLI, real registry)", () => {
  const tmp = tempDir("ferry-cli-attached-");
  const work = tmp.dir;
  let source: RunningRegistry;
  let offline: RunningRegistry;
  let env: NodeJS.ProcessEnv;
  let key: SigningKey;
  let image: TestImage;
  let signature: ReturnType<typeof makeCosignSignature>;
  let sbom: TestImage;
  let sbomSignature: ReturnType<typeof makeCosignSignature>;
  let bundle: string;

  /** `ferry save SOURCE/team/app:1 -o OUT ARGS` (the source registry is plain HTTP). */
  const saveApp = (out: string, ...args: string[]) =>
    ferryAsync(
      ["save", `${source.host}/team/app:1`, "-o", out, "--insecure-registry", source.host, ...args],
      { env },
    );
  /** `ferry pull SOURCE/team/app:1 --store STORE --platform linux/amd64 ARGS`. */
  const pullApp = (store: string, ...args: string[]) =>
    ferryAsync(
      [
        "pull",
        `${source.host}/team/app:1`,
        "--store",
        store,
        "--platform",
        "linux/amd64",
        "--insecure-registry",
        source.host,
        ...args,
      ],
      { env },
    );
  /** `ferry load BUNDLE --to-registry OFFLINE/PREFIX ARGS`. */
  const loadToOffline = (prefix: string, ...args: string[]) =>
    loadToRegistry(
      bundle,
      `${offline.host}/${prefix}`,
      ["--insecure-registry", offline.host, ...args],
      env,
    );

  beforeAll(async () => {
    env = homeEnv(work);
    [source, offline] = await Promise.all([startRegistry(), startRegistry()]);
    key = makeSigningKey("ecdsa-p256");
    image = makeImage();
    await pushImage(source.url, "team/app", "1", image);
    const reference = `${source.host}/team/app`;
    signature = makeCosignSignature(reference, image.digest, [key]);
    await pushImage(source.url, "team/app", `${digestTag(image.digest)}.sig`, signature);
    sbom = makeReferrer(
      { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length },
      SPDX,
      Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", name: "app" })),
      { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" },
    );
    await pushImage(source.url, "team/app", sbom.digest, sbom);
    await pushImage(source.url, "team/app", digestTag(image.digest), makeReferrersIndex([sbom]));
    sbomSignature = makeCosignSignature(reference, sbom.digest, [key]);
    await pushImage(source.url, "team/app", `${digestTag(sbom.digest)}.sig`, sbomSignature);

    bundle = path.join(work, "app.zip");
    const saved = await saveApp(bundle, "--json");
    expect(saved.code, saved.stderr).toBe(0);
  });

  afterAll(async () => {
    await Promise.all([source?.stop(), offline?.stop()]);
    tmp.cleanup();
  });

  const ferryJson = () =>
    JSON.parse(run("unzip", ["-p", bundle, "ferry.json"]).stdout) as {
      images: Array<{ ref: string; digest: string; blobs: string[]; attached?: Attached[] }>;
    };

  it("save records the signature, the SBOM referrer and the signature on the SBOM in ferry.json", () => {
    const [saved] = ferryJson().images;
    expect(saved?.digest).toBe(image.digest);
    const attached = saved?.attached ?? [];
    const byDigest = new Map(attached.map((a) => [a.digest, a]));
    expect(byDigest.get(signature.digest)).toMatchObject({
      subject: image.digest,
      foundBy: "cosign-tag",
      tag: `${digestTag(image.digest)}.sig`,
      kind: "signature",
    });
    expect(byDigest.get(sbom.digest)).toMatchObject({
      subject: image.digest,
      foundBy: "referrers-tag",
      artifactType: SPDX,
      kind: "sbom",
    });
    expect(byDigest.get(sbomSignature.digest)).toMatchObject({
      subject: sbom.digest,
      foundBy: "cosign-tag",
      kind: "signature",
    });
    expect(attached).toHaveLength(3);
    // Every artifact's manifest and blobs are in the bundle, listed with the image.
    for (const digest of [signature.digest, sbom.digest, sbomSignature.digest]) {
      expect(saved?.blobs).toContain(digest);
    }
    for (const blob of [...signature.blobs.keys(), ...sbom.blobs.keys()]) {
      expect(saved?.blobs).toContain(blob);
    }
  });

  it("inspect shows an ATTACHED column and lists each artifact, how it was found and what it refers to", async () => {
    const inspected = await ferryAsync(["inspect", bundle], { env });
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toMatch(/ATTACHED/);
    expect(inspected.stdout).toContain("2 signature, 1 sbom");
    expect(inspected.stdout).toContain("attached (carried with their images):");
    const lines = inspected.stdout.split("\n");
    const row = (digest: string) => lines.find((l) => l.includes(digest) && !l.includes("1 sbom"));
    expect(row(signature.digest)).toMatch(
      new RegExp(`signature +cosign-tag ${digestTag(image.digest)}\\.sig +${signature.digest}`),
    );
    expect(row(sbom.digest)).toMatch(/sbom +referrers-tag +sha256:\w+ +application\/spdx\+json/);
    expect(row(sbomSignature.digest)).toContain(sbom.digest);
  });

  it("verify checks the attached artifacts with the image", async () => {
    const verified = await ferryAsync(["verify", bundle], { env });
    expect(verified.code, verified.stderr).toBe(0);
  });

  it("load --to-registry recreates the signature tags and the referrers tag, byte-exact; openssl checks the signature there", async () => {
    const loaded = await loadToOffline("mirror", "--json");
    expect(loaded.code, loaded.stderr).toBe(0);
    const repo = "mirror/team/app";
    const pushedImage = await getManifest(offline.url, repo, "1");
    expect(sha256(pushedImage.bytes)).toBe(image.digest);

    const sig = await getManifest(offline.url, repo, `${digestTag(image.digest)}.sig`);
    expect(sig.status).toBe(200);
    expect(sig.bytes.equals(signature.bytes)).toBe(true);
    const sbomSig = await getManifest(offline.url, repo, `${digestTag(sbom.digest)}.sig`);
    expect(sbomSig.bytes.equals(sbomSignature.bytes)).toBe(true);
    const pushedSbom = await getManifest(offline.url, repo, sbom.digest);
    expect(pushedSbom.bytes.equals(sbom.bytes)).toBe(true);

    const referrers = await getManifest(offline.url, repo, digestTag(image.digest));
    expect(referrers.status).toBe(200);
    const index = JSON.parse(referrers.bytes.toString()) as {
      manifests: Array<{ digest: string; artifactType?: string }>;
    };
    expect(index.manifests).toEqual([
      expect.objectContaining({ digest: sbom.digest, artifactType: SPDX }),
    ]);

    // What `cosign verify --key` does, by hand: the payload blob, the annotation, the key.
    const doc = JSON.parse(sig.bytes.toString()) as {
      layers: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    const layer = doc.layers[0];
    const payload = await getBlob(offline.url, repo, layer?.digest ?? "");
    expect(
      (JSON.parse(payload.toString()) as { critical: { image: Record<string, string> } }).critical
        .image["docker-manifest-digest"],
    ).toBe(image.digest);
    const files = path.join(work, "openssl");
    execFileSync("mkdir", ["-p", files]);
    writeFileSync(path.join(files, "payload"), payload);
    writeFileSync(
      path.join(files, "sig"),
      Buffer.from(layer?.annotations["dev.cosignproject.cosign/signature"] ?? "", "base64"),
    );
    writeFileSync(path.join(files, "key.pub"), key.publicPem);
    const checked = run(
      "openssl",
      ["dgst", "-sha256", "-verify", "key.pub", "-signature", "sig", "payload"],
      files,
    );
    expect(checked.stdout.trim(), checked.stderr).toBe("Verified OK");

    const report = jsonOutput<{
      images: Array<{ attachedTags?: Array<{ target: string; status: string }> }>;
    }>(loaded);
    const statuses = report.images.flatMap((i) => i.attachedTags ?? []).map((t) => t.status);
    expect(statuses).toEqual(["new", "new", "new"]);
  });

  it("load --to-registry merges into a referrers index and a .sig tag already there, never dropping what they hold", async () => {
    const repo = "merge/team/app";
    // The site's own SBOM and signature, there before the load.
    const theirs = makeReferrer(
      { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length },
      "application/vnd.cyclonedx+json",
      Buffer.from('{"bomFormat":"CycloneDX"}'),
    );
    await pushImage(offline.url, repo, "1", image);
    await pushImage(offline.url, repo, theirs.digest, theirs);
    await pushImage(offline.url, repo, digestTag(image.digest), makeReferrersIndex([theirs]));
    const siteKey = makeSigningKey("ecdsa-p256");
    // The same payload as the carried signature (same reference, same digest), another key:
    // the same layer digest, another signature annotation.
    const siteSignature = makeCosignSignature(`${source.host}/team/app`, image.digest, [siteKey]);
    await pushImage(offline.url, repo, `${digestTag(image.digest)}.sig`, siteSignature);

    const loaded = await loadToOffline("merge", "--json");
    expect(loaded.code, loaded.stderr).toBe(0);
    const referrers = await getManifest(offline.url, repo, digestTag(image.digest));
    const index = JSON.parse(referrers.bytes.toString()) as {
      manifests: Array<{ digest: string }>;
    };
    expect(index.manifests.map((m) => m.digest)).toEqual([theirs.digest, sbom.digest]);
    const sig = await getManifest(offline.url, repo, `${digestTag(image.digest)}.sig`);
    const layers = (
      JSON.parse(sig.bytes.toString()) as { layers: Array<{ annotations: Record<string, string> }> }
    ).layers;
    expect(layers.map((l) => l.annotations["dev.cosignproject.cosign/signature"])).toEqual([
      ...siteSignature.signatures,
      ...signature.signatures,
    ]);
    const report = jsonOutput<{
      images: Array<{ attachedTags?: Array<{ status: string; kind: string }> }>;
    }>(loaded);
    const tags = report.images.flatMap((i) => i.attachedTags ?? []);
    expect(tags.map((t) => `${t.kind} ${t.status}`).sort()).toEqual(
      ["cosign-tag merged", "cosign-tag new", "referrers-tag merged"].sort(),
    );

    // Again: nothing changes, every name is already right.
    const again = await loadToOffline("merge", "--json");
    expect(again.code, again.stderr).toBe(0);
    const second = jsonOutput<{ images: Array<{ attachedTags?: Array<{ status: string }> }> }>(
      again,
    );
    expect(second.images.flatMap((i) => i.attachedTags ?? []).map((t) => t.status)).toEqual([
      "unchanged",
      "unchanged",
      "unchanged",
    ]);
    const after = await getManifest(offline.url, repo, digestTag(image.digest));
    expect(after.bytes.equals(referrers.bytes)).toBe(true);
  });

  it("a .sig tag holding something that is no cosign signature is never overwritten: the image's tag does not move", async () => {
    const repo = "clash/team/app";
    const squatter = makeImage();
    await pushImage(offline.url, repo, `${digestTag(image.digest)}.sig`, squatter);
    const loaded = await loadToOffline("clash");
    expect(loaded.code, loaded.stderr).toBe(9);
    expect(loaded.stderr).toContain(
      `${offline.host}/${repo}:${digestTag(image.digest)}.sig holds something that is not a cosign signature manifest`,
    );
    const still = await getManifest(offline.url, repo, `${digestTag(image.digest)}.sig`);
    expect(still.bytes.equals(squatter.bytes)).toBe(true);
    expect((await getManifest(offline.url, repo, "1")).status).toBe(404);
  });

  it("the store keeps them: load into the store, then push carries them on", async () => {
    const storeEnv = { ...env, FERRY_STORE: path.join(work, "store-push") };
    const loaded = await ferryAsync(["load", bundle], { env: storeEnv });
    expect(loaded.code, loaded.stderr).toBe(0);
    const images = await ferryAsync(["images"], { env: storeEnv });
    expect(images.stdout).toMatch(/ATTACHED/);
    expect(images.stdout).toMatch(/2 signature, 1 sbom/);
    const pushed = await ferryAsync(
      [
        "push",
        "--to-registry",
        `${offline.host}/fromstore`,
        "--insecure-registry",
        offline.host,
        `${source.host}/team/app:1`,
      ],
      { env: storeEnv },
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    const repo = "fromstore/team/app";
    const sig = await getManifest(offline.url, repo, `${digestTag(image.digest)}.sig`);
    expect(sig.bytes.equals(signature.bytes)).toBe(true);
    const sbomSig = await getManifest(offline.url, repo, `${digestTag(sbom.digest)}.sig`);
    expect(sbomSig.bytes.equals(sbomSignature.bytes)).toBe(true);
    const referrers = await getManifest(offline.url, repo, digestTag(image.digest));
    expect(JSON.parse(referrers.bytes.toString()).manifests[0].digest).toBe(sbom.digest);
    // gc keeps what is attached: it is named by the image's entry.
    const gc = await ferryAsync(["gc"], { env: storeEnv });
    expect(gc.code, gc.stderr).toBe(0);
    const check = await ferryAsync(["check"], { env: storeEnv });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const inspected = await ferryAsync(["inspect", `${source.host}/team/app:1`, "--json"], {
      env: storeEnv,
    });
    const details = jsonOutput<{ attached: Attached[] }>(inspected);
    expect(details.attached.map((a) => a.digest).sort()).toEqual(
      [signature.digest, sbom.digest, sbomSignature.digest].sort(),
    );
  });

  it("a registry with the referrers API is asked first and its answer used; discovery costs a counted few requests", async () => {
    const apiImage = makeImage();
    await pushImage(source.url, "api/app", "1", apiImage);
    const apiSbom = makeReferrer(
      { mediaType: apiImage.mediaType, digest: apiImage.digest, size: apiImage.bytes.length },
      SPDX,
      Buffer.from('{"spdxVersion":"SPDX-2.3","name":"api"}'),
    );
    await pushImage(source.url, "api/app", apiSbom.digest, apiSbom);
    // distribution 2.8 has no referrers API: the proxy answers it as an OCI 1.1 registry does.
    const proxy = await startFaultProxy(source.url);
    try {
      proxy.add({
        match: /^\/v2\/api\/app\/referrers\/sha256:[0-9a-f]{64}$/,
        times: Number.POSITIVE_INFINITY,
        fault: {
          kind: "respond",
          handler: (request, response) => {
            const listed = request.url?.endsWith(apiImage.digest) ? [apiSbom] : [];
            response.writeHead(200, { "Content-Type": OCI_INDEX });
            response.end(makeReferrersIndex(listed).bytes);
          },
        },
      });
      const out = path.join(work, "api.zip");
      const saved = await ferryAsync(
        ["save", `${proxy.host}/api/app:1`, "-o", out, "--insecure-registry", proxy.host, "-q"],
        { env: { ...env, FERRY_CACHE: path.join(work, "cache-api") } },
      );
      expect(saved.code, saved.stderr).toBe(0);
      const manifest = JSON.parse(run("unzip", ["-p", out, "ferry.json"]).stdout);
      expect(manifest.images[0].attached).toEqual([
        expect.objectContaining({ digest: apiSbom.digest, foundBy: "referrers-api", kind: "sbom" }),
      ]);
      const paths = proxy.requests.map((r) => r.path.split("?")[0] ?? "");
      // The image and the SBOM asked about once each; the tags listed once; no tag fetched
      // (no referrers tag with the API, no cosign tag the list does not name).
      expect(paths.filter((p) => p.includes("/referrers/"))).toHaveLength(2);
      expect(paths.filter((p) => p.endsWith("/tags/list"))).toHaveLength(1);
      expect(paths.filter((p) => /\/manifests\/sha256-/.test(p))).toHaveLength(0);

      // Pushed to a registry with the API: the SBOM is pushed with its subject and the
      // registry indexes it; no fallback tag is written.
      const target = await startFaultProxy(offline.url);
      try {
        target.add({
          match: /\/referrers\/sha256:[0-9a-f]{64}$/,
          times: Number.POSITIVE_INFINITY,
          fault: {
            kind: "respond",
            handler: (_request, response) => {
              response.writeHead(200, { "Content-Type": OCI_INDEX });
              response.end(makeReferrersIndex([]).bytes);
            },
          },
        });
        const loaded = await loadToRegistry(
          out,
          `${target.host}/withapi`,
          ["--insecure-registry", target.host, "--json"],
          env,
        );
        expect(loaded.code, loaded.stderr).toBe(0);
        const report = jsonOutput<{
          images: Array<{ attachedTags?: Array<{ kind: string; status: string }> }>;
        }>(loaded);
        expect(report.images[0]?.attachedTags).toEqual([
          expect.objectContaining({ kind: "referrers-api", status: "indexed-by-registry" }),
        ]);
        const pushedSbom = await getManifest(offline.url, "withapi/api/app", apiSbom.digest);
        expect(pushedSbom.bytes.equals(apiSbom.bytes)).toBe(true);
        const fallback = await getManifest(
          offline.url,
          "withapi/api/app",
          digestTag(apiImage.digest),
        );
        expect(fallback.status).toBe(404);
      } finally {
        await target.stop();
      }

      proxy.requests.length = 0;
      const bare = await ferryAsync(
        [
          "save",
          `${proxy.host}/api/app:1`,
          "-o",
          path.join(work, "api-bare.zip"),
          "--insecure-registry",
          proxy.host,
          "--no-attached",
          "-q",
        ],
        { env: { ...env, FERRY_CACHE: path.join(work, "cache-api-bare") } },
      );
      expect(bare.code, bare.stderr).toBe(0);
      const barePaths = proxy.requests.map((r) => r.path);
      expect(
        barePaths.filter((p) => p.includes("/referrers/") || p.includes("/tags/list")),
      ).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it("a Helm chart travels byte-exact to a registry, and docker-archive leaves it (and the signatures) out with a note", async () => {
    const chartConfig = Buffer.from('{"name":"app","version":"0.1.0","apiVersion":"v2"}');
    const chartContent = Buffer.from("not really a tgz, the registry does not look");
    const chart: TestImage = {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      bytes: Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          config: {
            mediaType: "application/vnd.cncf.helm.config.v1+json",
            digest: sha256(chartConfig),
            size: chartConfig.length,
          },
          layers: [
            {
              mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
              digest: sha256(chartContent),
              size: chartContent.length,
            },
          ],
        }),
      ),
      digest: "",
      blobs: new Map([
        [sha256(chartConfig), chartConfig],
        [sha256(chartContent), chartContent],
      ]),
      children: [],
      layers: [],
    };
    chart.digest = sha256(chart.bytes);
    await pushImage(source.url, "charts/app", "0.1.0", chart);
    const both = path.join(work, "chart-and-app.zip");
    const saved = await ferryAsync(
      [
        "save",
        `${source.host}/charts/app:0.1.0`,
        `${source.host}/team/app:1`,
        "-o",
        both,
        "--insecure-registry",
        source.host,
        "--json",
      ],
      { env },
    );
    expect(saved.code, saved.stderr).toBe(0);
    const savedChart = jsonOutput<{ images: Array<{ ref: string; artifactType?: string }> }>(saved)
      .images[0];
    expect(savedChart).toMatchObject({ artifactType: "application/vnd.cncf.helm.config.v1+json" });

    const loaded = await loadToRegistry(
      both,
      `${offline.host}/charts`,
      ["--insecure-registry", offline.host],
      env,
    );
    expect(loaded.code, loaded.stderr).toBe(0);
    const pushed = await getManifest(offline.url, "charts/charts/app", "0.1.0");
    expect(pushed.bytes.equals(chart.bytes)).toBe(true);
    expect(
      (await getBlob(offline.url, "charts/charts/app", sha256(chartContent))).equals(chartContent),
    ).toBe(true);

    const tar = path.join(work, "images.tar");
    const exported = await ferryAsync(["load", both, "--docker-archive", tar], { env });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toContain(
      `left out ${source.host}/charts/app:0.1.0: not a container image (its config is application/vnd.cncf.helm.config.v1+json); ${tar} holds container images only`,
    );
    expect(exported.stderr).toMatch(/team\/app:1: its 3 attached artifact\(s\) .* are not written/);
    const listed = run("tar", ["-xOf", tar, "manifest.json"]);
    const entries = JSON.parse(listed.stdout) as Array<{ RepoTags: string[] }>;
    expect(entries.flatMap((e) => e.RepoTags)).toEqual([`${source.host}/team/app:1`]);
  });

  it("on distribution 2.8 with nothing attached, discovery costs two requests per image (referrers API 404, one tag list)", async () => {
    const refs: string[] = [];
    for (const name of ["plain/a", "plain/b", "plain/c"]) {
      await pushImage(source.url, name, "1", makeImage({ layers: [Buffer.from(name)] }));
    }
    const proxy = await startFaultProxy(source.url);
    try {
      for (const name of ["plain/a", "plain/b", "plain/c"]) refs.push(`${proxy.host}/${name}:1`);
      const save = async (name: string, extra: string[]) => {
        proxy.requests.length = 0;
        const saved = await ferryAsync(
          [
            "save",
            ...refs,
            "-o",
            path.join(work, `${name}.zip`),
            "--insecure-registry",
            proxy.host,
            "-q",
            ...extra,
          ],
          { env: { ...env, FERRY_CACHE: path.join(work, `cache-${name}`) } },
        );
        expect(saved.code, saved.stderr).toBe(0);
        return proxy.requests.map((r) => `${r.method} ${r.path.split("?")[0]}`);
      };
      const withDiscovery = await save("plain-discovery", []);
      const without = await save("plain-bare", ["--no-attached"]);
      const extra = withDiscovery.filter((r) => !without.includes(r));
      expect(extra.sort()).toEqual(
        ["plain/a", "plain/b", "plain/c"].flatMap((name) => [
          expect.stringMatching(new RegExp(`^GET /v2/${name}/referrers/sha256:[0-9a-f]{64}$`)),
          `GET /v2/${name}/tags/list`,
        ]),
      );
      expect(withDiscovery.length - without.length).toBe(6);
    } finally {
      await proxy.stop();
    }
  });

  it("pull carries them into the store too; --no-attached pulls the image alone", async () => {
    const store = path.join(work, "pulled");
    const pulled = await pullApp(store, "--json");
    expect(pulled.code, pulled.stderr).toBe(0);
    const report = jsonOutput<{ images: Array<{ attached?: Attached[] }> }>(pulled);
    expect(report.images[0]?.attached?.map((a) => a.digest).sort()).toEqual(
      [signature.digest, sbom.digest, sbomSignature.digest].sort(),
    );
    const images = await ferryAsync(["images", "--store", store], { env });
    expect(images.stdout).toContain("2 signature, 1 sbom");
    // Pulled again without them: the store keeps what it had for the same manifest.
    const again = await pullApp(store, "--no-attached", "-q");
    expect(again.code, again.stderr).toBe(0);
    const kept = await ferryAsync(["images", "--store", store], { env });
    expect(kept.stdout).toContain("2 signature, 1 sbom");
    const gc = await ferryAsync(["gc", "--store", store], { env });
    expect(gc.code, gc.stderr).toBe(0);
    const check = await ferryAsync(["check", "--store", store], { env });
    expect(check.code, check.stdout + check.stderr).toBe(0);

    const bareStore = path.join(work, "pulled-bare");
    const bare = await pullApp(bareStore, "--no-attached", "-q");
    expect(bare.code, bare.stderr).toBe(0);
    const bareImages = await ferryAsync(["images", "--store", bareStore], { env });
    expect(bareImages.stdout).not.toContain("ATTACHED");
  });

  it("a delta against a bundle that carried them verifies and loads on top of it", async () => {
    const delta = path.join(work, "delta.zip");
    const saved = await saveApp(delta, "--since", bundle, "-q");
    expect(saved.code, saved.stderr).toBe(0);
    const manifest = JSON.parse(run("unzip", ["-p", delta, "ferry.json"]).stdout);
    expect(manifest.images[0].attached).toHaveLength(3);
    const store = path.join(work, "delta-store");
    for (const file of [bundle, delta]) {
      const loaded = await ferryAsync(["load", file, "--store", store], { env });
      expect(loaded.code, loaded.stderr).toBe(0);
    }
    const images = await ferryAsync(["images", "--store", store], { env });
    expect(images.stdout).toContain("2 signature, 1 sbom");
    const check = await ferryAsync(["check", "--store", store], { env });
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it("--no-attached carries the image alone", async () => {
    const plain = path.join(work, "plain.zip");
    const saved = await saveApp(plain, "--no-attached", "-q");
    expect(saved.code, saved.stderr).toBe(0);
    const manifest = JSON.parse(run("unzip", ["-p", plain, "ferry.json"]).stdout);
    expect(manifest.images[0].attached).toBeUndefined();
    expect(manifest.images[0].blobs).not.toContain(signature.digest);
    expect(manifest.blobs.map((b: { digest: string }) => b.digest)).not.toContain(sbom.digest);
  });

  it("--attached sbom carries the SBOM alone", async () => {
    const only = path.join(work, "sbom-only.zip");
    const saved = await saveApp(only, "--attached", "sbom", "-q");
    expect(saved.code, saved.stderr).toBe(0);
    const manifest = JSON.parse(run("unzip", ["-p", only, "ferry.json"]).stdout);
    expect(manifest.images[0].attached.map((a: Attached) => a.digest)).toEqual([sbom.digest]);
  });
});

describe("buildx attestation manifests and platform subsets (CLI, real registry)", () => {
  const tmp = tempDir("ferry-cli-buildx-");
  const work = tmp.dir;
  let registry: RunningRegistry;
  let env: NodeJS.ProcessEnv;
  let buildx: ReturnType<typeof makeBuildxIndex>;

  beforeAll(async () => {
    env = homeEnv(work);
    registry = await startRegistry();
    buildx = makeBuildxIndex([
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64" },
      { os: "linux", architecture: "s390x" },
    ]);
    await pushImage(registry.url, "team/multi", "1", buildx.index);
  });

  afterAll(async () => {
    await registry?.stop();
    tmp.cleanup();
  });

  const save = (name: string, args: string[]) =>
    ferryAsync(
      [
        "save",
        `${registry.host}/team/multi:1`,
        "-o",
        path.join(work, name),
        "--insecure-registry",
        registry.host,
        "--json",
        ...args,
      ],
      { env },
    );
  const manifestOf = (name: string) =>
    JSON.parse(run("unzip", ["-p", path.join(work, name), "ferry.json"]).stdout) as {
      images: Array<{
        digest: string;
        platforms: string[];
        blobs: string[];
        attached?: Attached[];
      }>;
    };
  const indexIn = (name: string, digest: string) =>
    JSON.parse(
      run("unzip", ["-p", path.join(work, name), `blobs/sha256/${digest.slice(7)}`]).stdout,
    ) as { manifests: Array<{ digest: string; platform?: { os: string } }> };

  it("a platform subset keeps the attestations of the kept platforms, in the narrowed index", async () => {
    const saved = await save("two.zip", ["--platform", "linux/amd64", "--platform", "linux/arm64"]);
    expect(saved.code, saved.stderr).toBe(0);
    const [image] = manifestOf("two.zip").images;
    expect(image?.platforms.sort()).toEqual(["linux/amd64", "linux/arm64"]);
    const [amd, arm, s390] = buildx.images;
    const [amdAtt, armAtt, s390Att] = buildx.attestations;
    const index = indexIn("two.zip", image?.digest ?? "");
    expect(index.manifests.map((m) => m.digest)).toEqual([
      amd?.digest,
      amdAtt?.digest,
      arm?.digest,
      armAtt?.digest,
    ]);
    expect(image?.blobs).not.toContain(s390?.digest);
    expect(image?.blobs).not.toContain(s390Att?.digest);
    expect(
      (image?.attached ?? []).map((a) => `${a.foundBy} ${a.digest} ${a.subject}`).sort(),
    ).toEqual(
      [
        `buildx-attestation ${amdAtt?.digest} ${amd?.digest}`,
        `buildx-attestation ${armAtt?.digest} ${arm?.digest}`,
      ].sort(),
    );
  });

  it("one platform keeps its attestation, recorded as attached to the platform manifest", async () => {
    const saved = await save("one.zip", ["--platform", "linux/arm64"]);
    expect(saved.code, saved.stderr).toBe(0);
    const [image] = manifestOf("one.zip").images;
    expect(image?.digest).toBe(buildx.images[1]?.digest);
    expect(image?.platforms).toEqual(["linux/arm64"]);
    expect(image?.attached?.map((a) => a.digest)).toEqual([buildx.attestations[1]?.digest]);
    expect(image?.blobs).toContain(buildx.attestations[1]?.digest);
  });

  it("--no-attached with a subset drops the attestation manifests", async () => {
    const saved = await save("bare.zip", [
      "--platform",
      "linux/amd64",
      "--platform",
      "linux/arm64",
      "--no-attached",
    ]);
    expect(saved.code, saved.stderr).toBe(0);
    const [image] = manifestOf("bare.zip").images;
    const index = indexIn("bare.zip", image?.digest ?? "");
    expect(index.manifests.map((m) => m.digest)).toEqual([
      buildx.images[0]?.digest,
      buildx.images[1]?.digest,
    ]);
    expect(image?.attached).toBeUndefined();
  });

  it("the whole index is kept as is; unknown/unknown is never listed as a platform", async () => {
    const saved = await save("all.zip", ["--platform", "all"]);
    expect(saved.code, saved.stderr).toBe(0);
    const [image] = manifestOf("all.zip").images;
    expect(image?.digest).toBe(buildx.index.digest);
    expect(image?.platforms.sort()).toEqual(["linux/amd64", "linux/arm64", "linux/s390x"]);
    expect(image?.attached).toHaveLength(3);
    const loaded = await ferryAsync(["load", path.join(work, "all.zip")], { env });
    expect(loaded.code, loaded.stderr).toBe(0);
    const images = await ferryAsync(["images"], { env });
    expect(images.stdout).toContain("linux/amd64,linux/arm64,linux/s390x");
    expect(images.stdout).not.toContain("unknown");
  });

  it("--platform unknown/unknown is refused with a clear message", async () => {
    const saved = await save("refused.zip", ["--platform", "unknown/unknown"]);
    expect(saved.code).toBe(2);
    expect(saved.stderr).toMatch(
      /unknown\/unknown.* is not a platform: buildx writes unknown\/unknown on its attestation manifests/,
    );
    const missing = await save("missing.zip", ["--platform", "linux/ppc64le"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("linux/amd64, linux/arm64, linux/s390x");
    expect(missing.stderr).not.toContain("unknown/unknown");
  });
});

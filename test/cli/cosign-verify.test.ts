/**
 * The cosign policy gate at the air gap: `ferry verify B.zip --cosign-key KEY.pub
 * [--require-signed]` and the same on load (refused before anything is written). Signatures
 * are made as cosign makes them (simple-signing payload naming the image digest, ECDSA P-256
 * or Ed25519, base64 in the layer annotation), pushed to the real registry, saved by ferry.
 */

import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  digestTag,
  makeCosignSignature,
  makeSigningKey,
  type SigningKey,
} from "../helpers/attached.js";
import { ferryAsync, homeEnv, jsonOutput, tempDir } from "../helpers/cli.js";
import {
  makeImage,
  pushImage,
  type RunningRegistry,
  startRegistry,
  type TestImage,
} from "../helpers/registry.js";
import { corruptEntry } from "../helpers/zip-tamper.js";

interface Verdict {
  ref: string;
  signed: boolean;
  keys: string[];
  rejected: string[];
}

describe("cosign signatures checked offline (CLI, real registry)", () => {
  const tmp = tempDir("ferry-cli-cosign-");
  const work = tmp.dir;
  let registry: RunningRegistry;
  let env: NodeJS.ProcessEnv;
  let ecdsa: SigningKey;
  let ed25519: SigningKey;
  let stranger: SigningKey;
  const keyFile = (name: string) => path.join(work, `${name}.pub`);
  const bundle = (name: string) => path.join(work, `${name}.zip`);
  const images: Record<string, TestImage> = {};
  const signatures: Record<string, TestImage> = {};

  /** Push `repo:1` signed as `sign` says, and save it to `repo.zip`. */
  async function signedImage(
    repo: string,
    sign: (reference: string, image: TestImage) => TestImage | undefined,
  ): Promise<void> {
    const image = makeImage();
    images[repo] = image;
    await pushImage(registry.url, repo, "1", image);
    const signature = sign(`${registry.host}/${repo}`, image);
    if (signature) {
      signatures[repo] = signature;
      await pushImage(registry.url, repo, `${digestTag(image.digest)}.sig`, signature);
    }
    const saved = await ferryAsync(
      [
        "save",
        `${registry.host}/${repo}:1`,
        "-o",
        bundle(repo),
        "--insecure-registry",
        registry.host,
        "-q",
      ],
      { env },
    );
    expect(saved.code, saved.stderr).toBe(0);
  }

  beforeAll(async () => {
    env = homeEnv(work);
    registry = await startRegistry();
    ecdsa = makeSigningKey("ecdsa-p256");
    ed25519 = makeSigningKey("ed25519");
    stranger = makeSigningKey("ecdsa-p256");
    writeFileSync(keyFile("ecdsa"), ecdsa.publicPem);
    writeFileSync(keyFile("ed25519"), ed25519.publicPem);
    writeFileSync(keyFile("stranger"), stranger.publicPem);
    await signedImage("good", (ref, image) => makeCosignSignature(ref, image.digest, [ecdsa]));
    await signedImage("edwards", (ref, image) => makeCosignSignature(ref, image.digest, [ed25519]));
    await signedImage("unsigned", () => undefined);
    await signedImage("wrongkey", (ref, image) =>
      makeCosignSignature(ref, image.digest, [stranger]),
    );
    // A valid signature by the right key, but over a payload naming another image.
    await signedImage("otherdigest", (ref, image) =>
      makeCosignSignature(ref, image.digest, [ecdsa], images.good?.digest),
    );
  });

  afterAll(async () => {
    await registry?.stop();
    tmp.cleanup();
  });

  const verify = (name: string, ...args: string[]) =>
    ferryAsync(["verify", bundle(name), ...args], { env });

  it("accepts a good ECDSA P-256 signature and a good Ed25519 one", async () => {
    const good = await verify(
      "good",
      "--cosign-key",
      keyFile("ecdsa"),
      "--require-signed",
      "--json",
    );
    expect(good.code, good.stderr).toBe(0);
    const report = jsonOutput<{ ok: boolean; cosign: { images: Verdict[] } }>(good);
    expect(report.cosign.images).toEqual([
      expect.objectContaining({
        ref: `${registry.host}/good:1`,
        signed: true,
        keys: [keyFile("ecdsa")],
      }),
    ]);
    const edwards = await verify(
      "edwards",
      "--cosign-key",
      keyFile("stranger"),
      "--cosign-key",
      keyFile("ed25519"),
      "--require-signed",
    );
    expect(edwards.code, edwards.stderr).toBe(0);
    expect(edwards.stdout).toContain(
      `SIGNED    ${registry.host}/edwards:1  cosign signature by ${keyFile("ed25519")}`,
    );
  });

  it("refuses a missing signature, a wrong key and a payload naming another digest, naming each image", async () => {
    for (const [name, why] of [
      ["unsigned", "no cosign signature"],
      ["wrongkey", "a signature by none of the given keys"],
      [
        "otherdigest",
        `its payload names ${images.good?.digest}, not ${images.otherdigest?.digest}`,
      ],
    ] as const) {
      const run = await verify(name, "--cosign-key", keyFile("ecdsa"), "--require-signed");
      expect(run.code, `${name}: ${run.stdout}${run.stderr}`).toBe(6);
      const line = run.stdout
        .split("\n")
        .find((l) => l.startsWith(`UNSIGNED  ${registry.host}/${name}:1  `));
      expect(line, run.stdout).toContain(why);
      expect(run.stdout).toContain("not every image is signed by a --cosign-key key");
    }
  });

  it("without --require-signed, verify reports the signature state and passes", async () => {
    const run = await verify("unsigned", "--cosign-key", keyFile("ecdsa"));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`UNSIGNED  ${registry.host}/unsigned:1  no cosign signature`);
  });

  it("load --require-signed refuses an unsigned image before writing anything; a signed one loads", async () => {
    const store = path.join(work, "gated-store");
    const refused = await ferryAsync(
      [
        "load",
        bundle("wrongkey"),
        "--store",
        store,
        "--cosign-key",
        keyFile("ecdsa"),
        "--require-signed",
      ],
      { env },
    );
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toContain(`${registry.host}/wrongkey:1`);
    expect(existsSync(path.join(store, "index.json"))).toBe(false);

    const pushed = await ferryAsync(
      [
        "load",
        bundle("unsigned"),
        "--to-registry",
        `${registry.host}/gated`,
        "--insecure-registry",
        registry.host,
        "--cosign-key",
        keyFile("ecdsa"),
        "--require-signed",
      ],
      { env },
    );
    expect(pushed.code, pushed.stderr).toBe(6);
    const tags = await fetch(`${registry.url}/v2/gated/unsigned/tags/list`);
    expect(tags.status).toBe(404);

    const loaded = await ferryAsync(
      [
        "load",
        bundle("good"),
        "--store",
        store,
        "--cosign-key",
        keyFile("ecdsa"),
        "--require-signed",
        "--json",
      ],
      { env },
    );
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(jsonOutput<{ cosign: Verdict[] }>(loaded).cosign).toEqual([
      expect.objectContaining({
        ref: `${registry.host}/good:1`,
        signed: true,
        keys: [keyFile("ecdsa")],
      }),
    ]);
    expect(existsSync(path.join(store, "index.json"))).toBe(true);

    // docker-archive: the tarball leaves signatures out, the gate still judges them.
    const tar = path.join(work, "gated.tar");
    const loadGatedTar = (name: string) =>
      ferryAsync(
        [
          "load",
          bundle(name),
          "--docker-archive",
          tar,
          "--cosign-key",
          keyFile("ecdsa"),
          "--require-signed",
        ],
        { env },
      );
    const unsignedTar = await loadGatedTar("unsigned");
    expect(unsignedTar.code, unsignedTar.stderr).toBe(6);
    expect(existsSync(tar)).toBe(false);
    const signedTar = await loadGatedTar("good");
    expect(signedTar.code, signedTar.stderr).toBe(0);
    expect(existsSync(tar)).toBe(true);
  });

  it("--require-signed without a key, and a key ferry cannot check, are usage errors", async () => {
    const noKey = await verify("good", "--require-signed");
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("--require-signed needs the keys to check");
    const rsa = path.join(work, "rsa.pub");
    const { generateKeyPairSync } = await import("node:crypto");
    writeFileSync(
      rsa,
      generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
        type: "spki",
        format: "pem",
      }),
    );
    const wrongType = await verify("good", "--cosign-key", rsa);
    expect(wrongType.code).toBe(2);
    expect(wrongType.stderr).toContain(
      "ferry checks cosign signatures by ECDSA P-256 and Ed25519 keys",
    );
  });

  it("a damaged signature payload is named by verify, and load refuses the bundle", async () => {
    const damaged = path.join(work, "damaged.zip");
    copyFileSync(bundle("good"), damaged);
    const sigDoc = JSON.parse(signatures.good?.bytes.toString() ?? "{}") as {
      layers: Array<{ digest: string }>;
    };
    const payload = sigDoc.layers[0]?.digest ?? "";
    await corruptEntry(damaged, `blobs/sha256/${payload.slice(7)}`);
    const run = await ferryAsync(
      ["verify", damaged, "--cosign-key", keyFile("ecdsa"), "--require-signed"],
      { env },
    );
    expect(run.code).toBe(3);
    expect(run.stdout).toContain(payload);
    expect(run.stdout).toContain(`${registry.host}/good:1`);
    const store = path.join(work, "damaged-store");
    const loaded = await ferryAsync(
      ["load", damaged, "--store", store, "--cosign-key", keyFile("ecdsa"), "--require-signed"],
      { env },
    );
    expect(loaded.code).toBe(3);
    expect(existsSync(path.join(store, "index.json"))).toBe(false);
  });
});

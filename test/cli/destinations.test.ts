/**
 * The destination grammar, `--to KIND[:WHERE]`, against the flags it replaces: each form and
 * its alias give the same result — `load --to store:DIR` / `--store DIR` / `$FERRY_STORE`,
 * `load --to docker-archive:FILE` / `--docker-archive FILE`, `load --to registry:HOST/PREFIX` /
 * `--to-registry HOST/PREFIX` (two real registries, one per form), `push --to registry:` /
 * `--to-registry`, `pull --to store:` / `--store`, `export --to docker-archive:` / `-o`. Two
 * destinations at once, unknown kinds and kinds a command does not take are usage errors that
 * list what is known.
 */

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AsyncRun, ferryAsync, homeEnv, tempDir } from "../helpers/cli.js";
import { createLayout, randomLayer } from "../helpers/oci-layout.js";
import { makeImage, pushImage, type RunningRegistry, startRegistry } from "../helpers/registry.js";
import { fingerprint } from "../helpers/tree.js";

const KiB = 1024;

function json<T>(result: AsyncRun): T {
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
}

function fileSha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** A report with the fields that name where it went, or when, taken out. */
function without<T extends object>(report: T, ...keys: string[]): Partial<T> {
  const copy: Record<string, unknown> = { ...(report as Record<string, unknown>) };
  for (const key of ["seconds", ...keys]) delete copy[key];
  return copy as Partial<T>;
}

describe("--to KIND[:WHERE] and the flags it replaces", () => {
  const tmp = tempDir("ferry-destinations-");
  const dir = tmp.dir;
  const bundle = path.join(dir, "bundle.zip");
  const env = (name: string): NodeJS.ProcessEnv => ({
    ...homeEnv(dir),
    FERRY_CACHE: path.join(dir, `cache-${name}`),
    FERRY_STATE_DIR: path.join(dir, `state-${name}`),
    FERRY_STORE: path.join(dir, `default-store-${name}`),
  });
  let first: RunningRegistry;
  let second: RunningRegistry;

  beforeAll(async () => {
    const layout = createLayout(path.join(dir, "layout"));
    const shared = randomLayer(48 * KiB);
    layout.tag("example.com/team/app:1", layout.image({ layers: [shared, randomLayer(8 * KiB)] }));
    layout.tag("docker.io/library/tool:2", layout.image({ layers: [shared] }));
    layout.finish();
    const saved = await ferryAsync(["save", `oci:${layout.dir}`, "-o", bundle, "-q"], {
      env: env("save"),
    });
    expect(saved.code, saved.stderr).toBe(0);
    [first, second] = await Promise.all([startRegistry(), startRegistry()]);
  });

  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    tmp.cleanup();
  });

  it("load: --to store:DIR, --store DIR, --to store and no flag ($FERRY_STORE) install the same", async () => {
    const stores = ["to", "alias", "bare", "default"].map((n) => path.join(dir, `load-${n}`));
    const runs = [
      ["load", bundle, "--to", `store:${stores[0]}`, "--json"],
      ["load", bundle, "--store", stores[1] as string, "--json"],
      ["load", bundle, "--to", "store", "--json"],
      ["load", bundle, "--json"],
    ];
    const reports = [];
    for (const [i, args] of runs.entries()) {
      const e = { ...env("load-store"), FERRY_STORE: stores[i] };
      reports.push(json<{ store: string }>(await ferryAsync(args, { env: e })));
    }
    expect(reports.map((r) => r.store)).toEqual(stores);
    const expected = without(reports[0] as object, "store");
    for (const report of reports) expect(without(report, "store")).toEqual(expected);
    const tree = fingerprint(stores[0] as string);
    expect(Object.keys(tree).length).toBeGreaterThan(3);
    for (const store of stores) expect(fingerprint(store)).toEqual(tree);
  });

  it("load: --to docker-archive:FILE and --docker-archive FILE write the same tarball", async () => {
    const [a, b] = ["to.tar", "alias.tar"].map((n) => path.join(dir, n)) as [string, string];
    const e = env("load-archive");
    const viaTo = json<{ output: string }>(
      await ferryAsync(["load", bundle, "--to", `docker-archive:${a}`, "--json"], { env: e }),
    );
    const viaAlias = json<{ output: string }>(
      await ferryAsync(["load", bundle, "--docker-archive", b, "--json"], { env: e }),
    );
    expect([viaTo.output, viaAlias.output]).toEqual([a, b]);
    expect(without(viaTo, "output")).toEqual(without(viaAlias, "output"));
    expect(fileSha256(a)).toBe(fileSha256(b));
  });

  it("load: --to registry:HOST/PREFIX and --to-registry HOST/PREFIX push the same", async () => {
    interface Push {
      registry: string;
      images: Array<{ target: string; digest: string; status: string }>;
      blobs: object;
      bytes: object;
      manifestsPushed: number;
    }
    const viaTo = json<Push>(
      await ferryAsync(["load", bundle, "--to", `registry:${first.host}/mirror`, "--json"], {
        env: env("load-registry-to"),
      }),
    );
    const viaAlias = json<Push>(
      await ferryAsync(["load", bundle, "--to-registry", `${second.host}/mirror`, "--json"], {
        env: env("load-registry-alias"),
      }),
    );
    expect(viaTo.registry).toBe(first.host);
    expect(viaAlias.registry).toBe(second.host);
    const normalized = (report: Push) =>
      JSON.parse(
        JSON.stringify(without(report, "registry", "from")).replaceAll(report.registry, "R"),
      );
    expect(normalized(viaTo)).toEqual(normalized(viaAlias));
    expect(viaTo.images.map((i) => i.target).sort()).toEqual([
      `${first.host}/mirror/library/tool:2`,
      `${first.host}/mirror/team/app:1`,
    ]);
    for (const [registry, repository, tag] of [
      [first, "mirror/team/app", "1"],
      [second, "mirror/team/app", "1"],
    ] as const) {
      const head = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
        method: "HEAD",
        headers: { Accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      expect(head.headers.get("docker-content-digest")).toBe(
        viaTo.images.find((i) => i.target.endsWith("team/app:1"))?.digest,
      );
    }
  });

  it("push: --to registry:HOST/PREFIX and --to-registry HOST/PREFIX push the same", async () => {
    const store = path.join(dir, "push-store");
    const e = { ...env("push"), FERRY_STORE: store };
    expect((await ferryAsync(["load", bundle, "-q"], { env: e })).code).toBe(0);
    const ref = "example.com/team/app:1";
    const viaTo = json<{ registry: string; images: Array<{ target: string; digest: string }> }>(
      await ferryAsync(["push", "--to", `registry:${first.host}/pushed`, ref, "--json"], {
        env: e,
      }),
    );
    const viaAlias = json<{ registry: string; images: Array<{ target: string; digest: string }> }>(
      await ferryAsync(["push", "--to-registry", `${second.host}/pushed`, ref, "--json"], {
        env: e,
      }),
    );
    expect(viaTo.images.map((i) => i.target)).toEqual([`${first.host}/pushed/team/app:1`]);
    const normalized = (report: { registry: string }) =>
      JSON.parse(JSON.stringify(without(report, "registry")).replaceAll(report.registry, "R"));
    expect(normalized(viaTo)).toEqual(normalized(viaAlias));
  });

  it("pull: --to store:DIR and --store DIR pull the same", async () => {
    const image = makeImage({ layers: [randomLayer(20 * KiB)] });
    await pushImage(first.url, "pulled/app", "3", image);
    const stores = [path.join(dir, "pull-to"), path.join(dir, "pull-alias")];
    const ref = `${first.host}/pulled/app:3`;
    const e = env("pull");
    const viaTo = json<{ store: string }>(
      await ferryAsync(["pull", ref, "--to", `store:${stores[0]}`, "--json"], { env: e }),
    );
    const viaAlias = json<{ store: string }>(
      await ferryAsync(["pull", ref, "--store", stores[1] as string, "--json"], { env: e }),
    );
    expect([viaTo.store, viaAlias.store]).toEqual(stores);
    expect(without(viaTo, "store", "transfer")).toEqual(without(viaAlias, "store", "transfer"));
    expect(fingerprint(stores[0] as string)).toEqual(fingerprint(stores[1] as string));
  });

  it("export: --to docker-archive:FILE and -o FILE write the same tarball", async () => {
    const store = path.join(dir, "export-store");
    const e = { ...env("export"), FERRY_STORE: store };
    expect((await ferryAsync(["load", bundle, "-q"], { env: e })).code).toBe(0);
    const [a, b] = ["export-to.tar", "export-o.tar"].map((n) => path.join(dir, n)) as [
      string,
      string,
    ];
    const refs = ["example.com/team/app:1", "docker.io/library/tool:2"];
    const viaTo = json<{ output: string }>(
      await ferryAsync(["export", ...refs, "--to", `docker-archive:${a}`, "--json"], { env: e }),
    );
    const viaAlias = json<{ output: string }>(
      await ferryAsync(["export", ...refs, "-o", b, "--json"], { env: e }),
    );
    expect(without(viaTo, "output")).toEqual(without(viaAlias, "output"));
    expect(fileSha256(a)).toBe(fileSha256(b));
  });

  it("two destinations, an unknown kind, or one the command does not take: usage errors", async () => {
    const e = env("errors");
    const cases: Array<[string[], RegExp, RegExp]> = [
      [
        ["load", bundle, "--to", "store:/tmp/a", "--store", "/tmp/b"],
        /--store cannot be combined with --to/,
        /name one destination: --to store\[:DIR\], docker-archive:FILE, docker\[:HOST\], containerd\[:SOCK\] or registry:HOST\[:PORT\]\[\/PREFIX\]/,
      ],
      [
        ["load", bundle, "--to-registry", first.host, "--docker-archive", "/tmp/x.tar"],
        /--docker-archive cannot be combined with --to-registry/,
        /name one destination/,
      ],
      [
        ["load", bundle, "--to", "ftp:/tmp/x"],
        /--to ftp:\/tmp\/x: unknown destination "ftp"/,
        /use --to store\[:DIR\], docker-archive:FILE, docker\[:HOST\], containerd\[:SOCK\] or registry:HOST\[:PORT\]\[\/PREFIX\]/,
      ],
      [
        ["pull", "alpine:3.19", "--to", `registry:${first.host}`],
        /this command does not write to registry/,
        /use --to store\[:DIR\]/,
      ],
      [
        ["push", "alpine:3.19", "--to", "store:/tmp/s"],
        /this command does not write to store/,
        /use --to registry:HOST\[:PORT\]\[\/PREFIX\]/,
      ],
      [
        ["export", "alpine:3.19"],
        /export needs a destination: --to docker-archive:FILE \(or -o FILE\)/,
        /^/,
      ],
      [
        ["load", bundle, "--to", `registry:${first.host}`, "--platform", "linux/amd64"],
        new RegExp(`--platform cannot be combined with --to registry:${first.host}`),
        /every image and platform/,
      ],
    ];
    for (const [args, message, hint] of cases) {
      const result = await ferryAsync(args, { env: e });
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr.split("hint: ")[1] ?? "", args.join(" ")).toMatch(hint);
    }
  });
});

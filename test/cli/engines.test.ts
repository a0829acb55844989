/**
 * Real container engines on both sides (issue 17): two dockerd and one containerd, each started
 * for this file in a temp folder of its own (test/helpers/engines.ts).
 *
 * - `docker-daemon:REF` → bundle → `load --to docker` into the SECOND dockerd: the image ID and
 *   `docker history` there are the first engine's; a second load reports the image unchanged;
 *   the save asks the engine (over tcp://, through a logging front) for ONE export of both
 *   images; by image ID the bundle names the image by its tag, and an untagged one is refused.
 * - `--to docker` without --platform asks the engine its platform first (`GET /info`).
 * - `export --to docker|containerd` from a store; a damaged layer leaves both engines as they were.
 * - `load --to containerd:SOCK` / `--to-containerd --address SOCK`: `ctr images ls` shows each
 *   image at the bundle's manifest digest, a multi-platform index kept as the index with all its
 *   platforms; the default namespace is k8s.io.
 * - an OS image (.wim) in the bundle is skipped with a notice for docker; a windows image is
 *   refused up front by a linux engine (nothing loaded); an engine that is not there is a typed
 *   ENETWORK naming its socket, for the source and both destinations.
 *
 * Skipped (loudly) only where the engines cannot start: not root, or not installed; never in CI.
 */

import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AsyncRun, ferryAsync, tempDir } from "../helpers/cli.js";
import {
  announceSkip,
  type ClassicImage,
  ctrImages,
  dockerSaveTar,
  engineSkipReason,
  type RunningContainerd,
  type RunningDocker,
  startContainerd,
  startDockerd,
  tarOf,
} from "../helpers/engines.js";
import { createLayout } from "../helpers/oci-layout.js";
import {
  makeSourceTree,
  setImageProperties,
  wimCapture,
  windowsVersion,
} from "../helpers/wimtools.js";
import { corruptEntry } from "../helpers/zip-tamper.js";

const skip = engineSkipReason(["dockerd", "containerd"]);
announceSkip("the real dockerd/containerd tests (test/cli/engines.test.ts)", skip);

const TAR = "application/vnd.oci.image.layer.v1.tar";

interface CopyReport {
  images: Array<{ ref: string; repoTag?: string; status?: string; id?: string }>;
  skipped?: Array<{ ref: string; reason: string }>;
}

function ok(result: AsyncRun): AsyncRun {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

function report(result: AsyncRun): CopyReport {
  return JSON.parse(ok(result).stdout) as CopyReport;
}

/** The error ferry printed with --json: its code and message. */
function failure(result: AsyncRun): { code: string; message: string } {
  const doc = JSON.parse(result.stdout) as { error: { code: string; message: string } };
  return doc.error;
}

/** A command that could not reach its engine: exit 9, ENETWORK naming the socket it tried. */
function expectUnreachable(result: AsyncRun, socket: string): void {
  expect(result.code).toBe(9);
  expect(failure(result).code).toBe("ENETWORK");
  expect(failure(result).message).toContain(socket);
}

/** Every image ID an engine holds, sorted (docker lists images of one date in any order). */
async function imageIds(engine: RunningDocker): Promise<string[]> {
  const out = await engine.docker(["images", "-a", "-q", "--no-trunc"]);
  return [...new Set(out.split("\n").filter(Boolean))].sort();
}

/**
 * A plain-HTTP TCP front of an engine's unix socket on 127.0.0.1 (port 0) that logs every
 * request: the engine as `tcp://` sees it, and what ferry asked of it.
 */
async function tcpFront(
  socket: string,
): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const forward = http.request(
      { socketPath: socket, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forward.on("error", () => response.destroy());
    request.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `tcp://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe.skipIf(skip !== undefined)(
  "real engines: docker-daemon:, --to docker, --to containerd",
  () => {
    const tmp = tempDir("ferry-engines-");
    const dir = tmp.dir;
    const env: NodeJS.ProcessEnv = {
      HOME: dir,
      FERRY_CACHE: path.join(dir, "cache"),
      FERRY_STATE_DIR: path.join(dir, "state"),
      FERRY_STORE: path.join(dir, "store"),
      FERRY_PROGRESS: "none",
      DOCKER_CONFIG: path.join(dir, "docker-cli"),
      DOCKER_HOST: "",
      CONTAINERD_ADDRESS: "",
    };
    const cli = (args: string[]) => ferryAsync(args, { env, safetyNetMs: 300_000 });
    /** `ferry load BUNDLE --to docker --docker-host SECOND --platform linux/amd64 --json`. */
    const loadToSecondDocker = (bundle: string) =>
      cli([
        "load",
        bundle,
        "--to",
        "docker",
        "--docker-host",
        second.host,
        "--platform",
        "linux/amd64",
        "--json",
      ]);
    /** `ferry load BUNDLE --to containerd:SOCKET --namespace NS --json` into the test's containerd. */
    const loadToContainerd = (bundle: string, namespace: string) =>
      cli([
        "load",
        bundle,
        "--to",
        `containerd:${containerd.address}`,
        "--namespace",
        namespace,
        "--json",
      ]);
    let first: RunningDocker;
    let second: RunningDocker;
    let containerd: RunningContainerd;

    /** Two images in the first engine, made and `docker load`ed without ferry. */
    const app: ClassicImage = {
      repoTag: "example.com/team/app:1.0",
      layers: [
        tarOf({ "usr/bin/app": "#!/bin/sh\necho app\n", "etc/app.conf": "mode=offline\n" }),
        tarOf({ "var/lib/app/data.bin": Buffer.alloc(70_000, 7) }),
      ],
      createdBy: ["/bin/sh -c #(nop) ADD file:app in /", "/bin/sh -c make data"],
    };
    const tool: ClassicImage = {
      repoTag: "tool:2",
      layers: [tarOf({ "usr/bin/tool": "tool\n" })],
      createdBy: ["/bin/sh -c #(nop) COPY tool /usr/bin/tool"],
    };
    let ids: string[] = [];

    /** An OCI layout bundle: a two-platform index, a single linux image, and a windows image. */
    const layoutBundle = path.join(dir, "layout.zip");
    const windowsBundle = path.join(dir, "windows.zip");
    const wimBundle = path.join(dir, "with-wim.zip");
    let index = "";
    let single = "";
    let loneLayer = "";

    beforeAll(async () => {
      [first, second, containerd] = await Promise.all([
        startDockerd(),
        startDockerd(),
        startContainerd(),
      ]);
      const saved = dockerSaveTar([app, tool]);
      ids = saved.ids;
      const tarFile = path.join(dir, "classic.tar");
      writeFileSync(tarFile, saved.tar);
      await first.docker(["load", "-i", tarFile]);

      const layout = createLayout(path.join(dir, "layout"));
      const base = tarOf({ "etc/os-release": "ID=ferry\n" });
      const amd = layout.image({
        layers: [base, tarOf({ "bin/x": "amd64\n" })],
        layerMediaType: TAR,
      });
      const arm = layout.image({
        layers: [base, tarOf({ "bin/x": "arm64\n" })],
        layerMediaType: TAR,
        platform: { os: "linux", architecture: "arm64" },
      });
      const multi = layout.index([
        { ...amd, platform: { os: "linux", architecture: "amd64" } },
        { ...arm, platform: { os: "linux", architecture: "arm64" } },
      ]);
      layout.tag("example.com/team/multi:3", multi);
      const lone = layout.image({ layers: [tarOf({ "srv/lone": "1\n" })], layerMediaType: TAR });
      layout.tag("docker.io/library/lone:1", lone);
      layout.finish();
      index = multi.digest;
      single = lone.digest;
      loneLayer = lone.layers[0] as string;
      ok(await cli(["save", `oci:${layout.dir}`, "-o", layoutBundle, "-q"]));

      const win = createLayout(path.join(dir, "windows-layout"));
      win.tag(
        "example.com/win/app:ltsc2022",
        win.image({
          layers: [tarOf({ "Files/app.exe": "MZ" })],
          layerMediaType: TAR,
          platform: { os: "windows", architecture: "amd64", "os.version": "10.0.20348.1" },
        }),
      );
      win.finish();
      ok(await cli(["save", `oci:${win.dir}`, "-o", windowsBundle, "-q"]));

      const tree = await makeSourceTree(path.join(dir, "wim-tree"), {
        fileCount: 2,
        fileBytes: 4_000,
      });
      const wim = await wimCapture(tree, path.join(dir, "nano.wim"), "Nano Server");
      await setImageProperties(wim, 1, windowsVersion("10.0.20348.2113"));
      ok(await cli(["save", `oci:${layout.dir}`, wim, "-o", wimBundle, "-q"]));
    }, 300_000);

    afterAll(async () => {
      await Promise.all([first?.stop(), second?.stop(), containerd?.stop()]);
      tmp.cleanup();
    }, 120_000);

    it("docker-daemon:REF → bundle → --to docker into a second engine: same image IDs and history", async () => {
      const bundle = path.join(dir, "from-daemon.zip");
      // Through tcp:// (a logging front of the first engine): both images in ONE export.
      const front = await tcpFront(first.socket);
      try {
        ok(
          await cli([
            "save",
            "docker-daemon:example.com/team/app:1.0",
            "docker-daemon:tool:2",
            "--docker-host",
            front.url,
            "-o",
            bundle,
            "-q",
          ]),
        );
      } finally {
        await front.close();
      }
      expect(front.requests.filter((r) => r.includes("/images/get"))).toEqual([
        "GET /images/get?names=example.com%2Fteam%2Fapp%3A1.0&names=tool%3A2",
      ]);
      // The temp copy of the engine's export is gone once the save is done.
      const exports = path.join(dir, "cache", "docker-daemon");
      const cached = existsSync(exports) ? readdirSync(exports) : [];
      expect(cached).toEqual([]);

      const loaded = report(
        await cli(["load", bundle, "--to", "docker", "--docker-host", second.host, "--json"]),
      );
      expect(loaded.images.map((i) => [i.repoTag, i.status, i.id])).toEqual([
        ["example.com/team/app:1.0", "new", ids[0]],
        ["tool:2", "new", ids[1]],
      ]);
      for (const image of [app, tool]) {
        const inspect = (engine: RunningDocker) =>
          engine.docker([
            "image",
            "inspect",
            "--format",
            "{{.Id}} {{.RootFS.Layers}}",
            image.repoTag,
          ]);
        const history = (engine: RunningDocker) =>
          engine.docker([
            "history",
            "--no-trunc",
            "--format",
            "{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}",
            image.repoTag,
          ]);
        expect(await inspect(second)).toBe(await inspect(first));
        expect(await history(second)).toBe(await history(first));
      }

      // Again, through the --to-docker switch and DOCKER_HOST: nothing changed.
      const again = report(
        await ferryAsync(["load", bundle, "--to-docker", "--json"], {
          env: { ...env, DOCKER_HOST: second.host },
        }),
      );
      expect(again.images.map((i) => i.status)).toEqual(["unchanged", "unchanged"]);
    });

    it("docker-daemon: by image ID names the image by its tag; an untagged one is refused", async () => {
      const byId = await cli([
        "save",
        `docker-daemon:${(ids[1] as string).slice(7, 19)}`,
        "--docker-host",
        first.host,
        "-o",
        path.join(dir, "by-id.zip"),
        "--json",
      ]);
      const saved = JSON.parse(ok(byId).stdout) as { images: Array<{ ref: string }> };
      expect(saved.images.map((i) => i.ref)).toEqual(["docker.io/library/tool:2"]);

      // An image left without a name: another one loaded under its tag.
      const [dangling, successor] = [1, 2].map((n) =>
        dockerSaveTar([
          { repoTag: "scratch/moved:1", layers: [tarOf({ n: String(n) })], createdBy: ["n"] },
        ]),
      ) as [ReturnType<typeof dockerSaveTar>, ReturnType<typeof dockerSaveTar>];
      for (const [i, made] of [dangling, successor].entries()) {
        const file = path.join(dir, `moved-${i}.tar`);
        writeFileSync(file, made.tar);
        await first.docker(["load", "-i", file]);
      }
      const refused = await cli([
        "save",
        `docker-daemon:${dangling.ids[0]}`,
        "--docker-host",
        first.host,
        "-o",
        path.join(dir, "untagged.zip"),
        "--json",
      ]);
      expect(refused.code, refused.stdout).toBe(2);
      expect(failure(refused).message).toContain("the image has no name");
    });

    it("--to containerd keeps the bundle's manifest digests, a multi-platform index as the index", async () => {
      const loaded = report(
        await cli(["load", layoutBundle, "--to", `containerd:${containerd.address}`, "--json"]),
      );
      expect(loaded.images.map((i) => i.status)).toEqual(["new", "new"]);
      // Default namespace: k8s.io.
      const images = await ctrImages(containerd, "k8s.io");
      expect(images.get("example.com/team/multi:3")?.digest).toBe(index);
      expect(images.get("example.com/team/multi:3")?.platforms).toBe("linux/amd64,linux/arm64");
      expect(images.get("docker.io/library/lone:1")?.digest).toBe(single);
      // containerd holds the index blob itself, byte for byte the bundle's.
      const indexBytes = Buffer.from(
        await containerd.ctr("k8s.io", ["content", "get", index]),
        "utf8",
      );
      expect(`sha256:${sha256(indexBytes)}`).toBe(index);

      // --to-containerd --address SOCK --namespace NS: the same, into another namespace.
      const other = report(
        await cli([
          "load",
          layoutBundle,
          "--to-containerd",
          "--address",
          containerd.address,
          "--namespace",
          "ferry-test",
          "--json",
        ]),
      );
      expect(other.images.map((i) => i.status)).toEqual(["new", "new"]);
      const there = await ctrImages(containerd, "ferry-test");
      expect([...there].map(([name, i]) => [name, i.digest]).sort()).toEqual(
        [
          ["docker.io/library/lone:1", single],
          ["example.com/team/multi:3", index],
        ].sort(),
      );
      // Loaded again: unchanged.
      const again = report(
        await cli(["load", layoutBundle, "--to", `containerd:${containerd.address}`, "--json"]),
      );
      expect(again.images.map((i) => i.status)).toEqual(["unchanged", "unchanged"]);
    });

    it("export from the store: --to containerd keeps the index, --to docker gets the image", async () => {
      const store = path.join(dir, "export-store");
      ok(await cli(["load", layoutBundle, "--store", store, "-q"]));
      const ns = "export-test";
      ok(
        await cli([
          "export",
          "example.com/team/multi:3",
          "--store",
          store,
          "--to",
          "containerd",
          "--address",
          containerd.address,
          "--namespace",
          ns,
        ]),
      );
      const images = await ctrImages(containerd, ns);
      expect(images.get("example.com/team/multi:3")?.digest).toBe(index);

      const exported = report(
        await cli([
          "export",
          "docker.io/library/lone:1",
          "--store",
          store,
          "--to",
          `docker:${second.host}`,
          "--json",
        ]),
      );
      expect(exported.images.map((i) => i.repoTag)).toEqual(["lone:1"]);
      const id = (
        await second.docker(["image", "inspect", "--format", "{{.Id}}", "lone:1"])
      ).trim();
      expect(id).toBe(exported.images[0]?.id);
    });

    it("an OS image (.wim) in the bundle is skipped with a notice for docker and containerd", async () => {
      const docker = report(await loadToSecondDocker(wimBundle));
      expect(docker.images.map((i) => i.repoTag).sort()).toEqual([
        "example.com/team/multi:3",
        "lone:1",
      ]);
      expect(docker.skipped?.length).toBe(1);
      expect(docker.skipped?.[0]?.reason).toMatch(/not a container image|OS image/i);
      const text = ok(
        await cli(["load", wimBundle, "--to", "docker", "--docker-host", second.host]),
      ).stdout;
      expect(text).toMatch(/skipped .*nano/i);
      const names = await second.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
      expect(names.split("\n")).toEqual(
        expect.arrayContaining(["example.com/team/multi:3", "lone:1"]),
      );

      const ns = "wim-test";
      const containerdRun = report(await loadToContainerd(wimBundle, ns));
      expect(containerdRun.skipped?.length).toBe(1);
      expect([...(await ctrImages(containerd, ns)).keys()].sort()).toEqual([
        "docker.io/library/lone:1",
        "example.com/team/multi:3",
      ]);
    });

    it("a windows image into a linux engine is refused up front; nothing is loaded", async () => {
      const before = await imageIds(second);
      const load = (...more: string[]) =>
        cli([
          "load",
          windowsBundle,
          "--to",
          "docker",
          "--docker-host",
          second.host,
          ...more,
          "--json",
        ]);
      // By default docker gets the engine's platform (asked first), which the image has not.
      const front = await tcpFront(second.socket);
      let unplatformed: AsyncRun;
      try {
        unplatformed = await cli(["load", windowsBundle, "--to", `docker:${front.url}`, "--json"]);
      } finally {
        await front.close();
      }
      expect(unplatformed.code, unplatformed.stdout).toBe(4);
      expect(failure(unplatformed).message).toContain(
        "example.com/win/app:ltsc2022 is for windows/amd64:10.0.20348.1, not linux/amd64",
      );
      expect(front.requests.map((r) => r.replace(/^(\w+) \/v[\d.]+/, "$1 "))).toEqual([
        "GET /info",
      ]);
      // Its own platform chosen: the engine's OS is asked before anything is sent.
      const refused = await load("--platform", "windows/amd64");
      expect(refused.code, refused.stdout).toBe(2);
      const error = failure(refused);
      expect(error.code).toBe("EUSAGE");
      expect(error.message).toBe(
        `example.com/win/app:ltsc2022 is a windows image; the Docker engine at ${second.host} runs linux containers`,
      );
      expect(await imageIds(second)).toEqual(before);

      const ns = "windows-test";
      const refusedByContainerd = await loadToContainerd(windowsBundle, ns);
      expect(refusedByContainerd.code).toBe(2);
      expect(failure(refusedByContainerd).message).toContain("has no linux platform");
      expect((await ctrImages(containerd, ns)).size).toBe(0);
    });

    it("a damaged layer in the bundle: EINTEGRITY naming it, and neither engine gets an image", async () => {
      const bad = path.join(dir, "damaged.zip");
      copyFileSync(layoutBundle, bad);
      await corruptEntry(bad, `blobs/sha256/${loneLayer.slice(7)}`);
      const before = await imageIds(second);
      const toDocker = await loadToSecondDocker(bad);
      expect(toDocker.code, toDocker.stdout).toBe(3);
      expect(failure(toDocker).code).toBe("EINTEGRITY");
      expect(failure(toDocker).message).toContain(loneLayer);
      expect(await imageIds(second)).toEqual(before);

      const ns = "damaged-test";
      const toContainerd = await loadToContainerd(bad, ns);
      expect(toContainerd.code, toContainerd.stdout).toBe(3);
      expect(failure(toContainerd).code).toBe("EINTEGRITY");
      expect((await ctrImages(containerd, ns)).size).toBe(0);
    });

    it("an engine that is not there: ENETWORK naming its socket, for the source and both destinations", async () => {
      const gone = path.join(dir, "no-engine", "docker.sock");
      const save = await cli([
        "save",
        "docker-daemon:tool:2",
        "--docker-host",
        `unix://${gone}`,
        "-o",
        path.join(dir, "never.zip"),
        "--json",
      ]);
      expectUnreachable(save, gone);

      const toDocker = await cli([
        "load",
        layoutBundle,
        "--to",
        `docker:unix://${gone}`,
        "--platform",
        "linux/amd64",
        "--json",
      ]);
      expectUnreachable(toDocker, gone);

      const toContainerd = await cli([
        "load",
        layoutBundle,
        "--to",
        `containerd:${path.join(dir, "no-engine", "containerd.sock")}`,
        "--json",
      ]);
      expectUnreachable(toContainerd, path.join(dir, "no-engine", "containerd.sock"));

      // An image the engine does not hold: ENOTFOUND naming it.
      const missing = await cli([
        "save",
        "docker-daemon:tool:2",
        "docker-daemon:nothere:1",
        "--docker-host",
        first.host,
        "-o",
        path.join(dir, "never.zip"),
        "--json",
      ]);
      expect(failure(missing).code).toBe("ENOTFOUND");
      expect(failure(missing).message).toContain("nothere:1");
      // The export made for tool:2 is removed all the same.
      const exports = path.join(dir, "cache", "docker-daemon");
      expect(existsSync(exports) ? readdirSync(exports) : []).toEqual([]);
    });
  },
);

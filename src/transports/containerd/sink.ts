/**
 * `--to containerd[:SOCK]`: images imported into containerd with their exact digests, through
 * `ctr -a SOCK -n NS images import --all-platforms -` reading an OCI image layout as a tar from
 * its stdin: blobs as the copy verifies them, `index.json` (what ctr names images from) only at
 * commit, after every blob passed. Each image's entry in index.json is its root as the bundle
 * has it (a multi-platform index stays an index), named `io.containerd.image.name`: the image's
 * full reference. An abort kills ctr before index.json: no image is created (blobs it stored
 * are unreferenced, for containerd's garbage collector). Before: no image whose platforms all
 * have another OS than this machine's (containerd runs here, and unpacks for it); what each
 * name pointed at is noted. After: `ctr images ls` must show each name at the bundle's digest.
 */

import { FerryError, UsageError } from "../../errors.js";
import type { CopySink, ImageOutcome, PlannedImage } from "../entry.js";
import { LayoutTarSink, type TarOutput } from "../tar/layout-tar-sink.js";
import { type CtrTarget, checkSocket, ctrFailure, listImages, startCtr } from "./ctr.js";

/** This machine's OS as image platforms name it. */
function hostOs(): string {
  return process.platform === "win32" ? "windows" : process.platform;
}

export class ContainerdSink {
  static async open(target: CtrTarget, images: readonly PlannedImage[]): Promise<CopySink> {
    const os = hostOs();
    for (const image of images) {
      if (image.platforms.length > 0 && !image.platforms.some((p) => p.os === os)) {
        const theirs = [...new Set(image.platforms.map((p) => p.os))].join(", ");
        throw new UsageError(
          `${image.name} has no ${os} platform (it has ${theirs}); containerd here runs ${os} containers`,
          {
            hint: `load it on a ${theirs} node, or leave it out`,
            details: { image: image.name, imageOs: theirs, engineOs: os },
          },
        );
      }
    }
    await checkSocket(target);
    const before = await listImages(target);
    return new ContainerdSink(target, images, before).sink;
  }

  readonly sink: CopySink;
  private results: ImageOutcome[] | undefined;

  private constructor(
    private readonly target: CtrTarget,
    private readonly images: readonly PlannedImage[],
    private readonly before: Map<string, string>,
  ) {
    const run = startCtr(target, ["images", "import", "--all-platforms", "-"]);
    const output: TarOutput = {
      stream: run.child.stdin,
      complete: async () => {
        const { code, stderr } = await run.exited;
        if (code !== 0) throw ctrFailure(target, "importing images", stderr);
        this.results = await this.check();
      },
      discard: async () => {
        // Killed before it read index.json: ctr names no image.
        run.child.kill("SIGKILL");
        await run.exited.catch(() => {});
      },
      explain: async (error) => {
        // A blob that failed its check is the copy's own error; a closed stdin is ctr's doing.
        if (error instanceof FerryError) return error;
        const exit = await run.exited.catch((failure: unknown) => failure);
        if (exit instanceof FerryError) return exit;
        const { stderr } = exit as { stderr: string };
        return ctrFailure(target, "importing images", stderr);
      },
    };
    const tar = new LayoutTarSink(`containerd ${target.address} (${target.namespace})`, output);
    this.sink = Object.assign(tar, { outcomes: () => this.results ?? [] });
  }

  /** Each image under its name at the bundle's digest, and what it was before. */
  private async check(): Promise<ImageOutcome[]> {
    const after = await listImages(this.target);
    return this.images.map((image) => {
      const found = after.get(image.name);
      if (found !== image.root.digest) {
        throw new FerryError(
          "EENGINE",
          `containerd at ${this.target.address} (namespace ${this.target.namespace}) does not show ${image.name} at ${image.root.digest} after the import (${found ? `it points at ${found}` : "no such image"})`,
          {
            hint: "check `ctr images ls` and containerd's log, and load the bundle again",
            details: { image: image.name, expected: image.root.digest, found: found ?? null },
          },
        );
      }
      const previous = this.before.get(image.name);
      const status =
        previous === undefined ? "new" : previous === image.root.digest ? "unchanged" : "updated";
      return {
        name: image.name,
        status,
        id: image.root.digest,
        ...(status === "updated" && previous ? { previous } : {}),
      };
    });
  }
}

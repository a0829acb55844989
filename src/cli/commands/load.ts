import type { Command } from "commander";
import { bundleToDockerArchive } from "../../ops/export.js";
import { loadBundle } from "../../ops/load.js";
import { hostPlatform } from "../../ops/registry-options.js";
import { collect, platformSelector, positiveInteger } from "../context.js";
import { createOutput, formatSeconds, formatSize, formatTable, type Output } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import { type TrustFlags, trustedKeys } from "../trust-options.js";
import { addPushOptions, type LoadPushFlags, loadToRegistry } from "./push.js";
import { loadedOsImageLines } from "./wim.js";

export function registerLoad(program: Command): void {
  addPushOptions(program.command("load"), {
    toRegistry:
      "instead of the store: push the verified bundle into this registry (source host dropped, path kept under PREFIX)",
    helpLast: true,
  })
    .description("verify a bundle and install its images into the local store, atomically")
    .argument("<bundle>", "the bundle zip, or a split bundle's .parts file (or its .001 part)")
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("-j, --jobs <n>", "blob writes at once", positiveInteger)
    .option("--no-latest", "do not move OS images' latest tags to the newest installed version")
    .option("--trust <key.pub>", "require a signature by this public key (repeatable)", collect)
    .option(
      "--trust-dir <dir>",
      "require a signature by a key in this folder (*.pub); also $FERRY_TRUST_DIR",
    )
    .option("--docker-archive <out.tar>", "instead of the store: write a tarball for `docker load`")
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "with --docker-archive: the platform docker gets from multi-platform images (default: this machine's)",
      collect,
    )
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress")
    .action(
      async (
        bundle: string,
        flags: LoadPushFlags & {
          store?: string;
          jobs?: number;
          json?: boolean;
          quiet?: boolean;
          latest?: boolean;
          dockerArchive?: string;
          platform?: string[];
        },
      ) => {
        const out = createOutput(flags);
        if (flags.toRegistry !== undefined) {
          await loadToRegistry(bundle, flags);
          return;
        }
        if (flags.dockerArchive) {
          await loadToDockerArchive(bundle, flags.dockerArchive, flags, out);
          return;
        }
        const progress = createProgress("loading", !flags.json && !flags.quiet);
        const report = await loadBundle(bundle, {
          storeDir: resolveStoreDir(flags.store),
          onEvent: progress.onEvent,
          ...(flags.jobs ? { jobs: flags.jobs } : {}),
          latest: flags.latest !== false,
          trust: await trustedKeys(flags),
        }).finally(progress.stop);
        out.result(report, () =>
          [
            formatTable(
              ["IMAGE", "STATUS", "DIGEST"],
              report.images.map((i) => [
                i.ref,
                i.previous ? `${i.status} (was ${i.previous.slice(0, 19)})` : i.status,
                i.digest,
              ]),
            ),
            ...loadedOsImageLines(report),
            "",
            `loaded ${report.images.length} image(s) into ${report.store}: ${report.blobsWritten} blobs written (${formatSize(report.bytesWritten)}), ${report.blobsSkipped} already present (${formatSize(report.bytesSkipped)}), in ${formatSeconds(report.seconds)}`,
          ].join("\n"),
        );
      },
    );
}

async function loadToDockerArchive(
  bundle: string,
  output: string,
  flags: TrustFlags & { platform?: string[]; json?: boolean; quiet?: boolean },
  out: Output,
): Promise<void> {
  const progress = createProgress("exporting", !flags.json && !flags.quiet);
  const report = await bundleToDockerArchive(bundle, {
    output,
    platforms: platformSelector(flags.platform, [hostPlatform()]),
    trust: await trustedKeys(flags),
    onEvent: progress.onEvent,
  }).finally(progress.stop);
  out.result(report, () =>
    [
      formatTable(
        ["IMAGE", "DOCKER NAME", "PLATFORM"],
        report.images.map((i) => [i.ref, i.repoTag ?? "-", i.platforms.join(",")]),
      ),
      "",
      `verified ${bundle} and wrote ${output} (${formatSize(report.bytes)}); run: docker load -i ${output}`,
    ].join("\n"),
  );
}

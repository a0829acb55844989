import type { Command } from "commander";
import { collect, positiveInteger } from "../context.js";
import { addPushOptions, type LoadPushFlags } from "./push.js";

export interface LoadFlags extends LoadPushFlags {
  store?: string;
  jobs?: number;
  json?: boolean;
  quiet?: boolean;
  latest?: boolean;
  dockerArchive?: string;
  platform?: string[];
  allowDowngrade?: boolean;
}

export function registerLoad(program: Command): void {
  addPushOptions(program.command("load"), {
    toRegistry:
      "instead of the store: push the verified bundle into this registry (source host dropped, path kept under PREFIX)",
    dryRun:
      "verify the bundle and show what the load would do (new/updated/unchanged per image, blobs and bytes to write) into the store, --to-registry or --docker-archive; write nothing",
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
    .option(
      "--allow-downgrade",
      "load a bundle older than one loaded before (lower signed sequence, or an older bundle's image under a name)",
    )
    .option("--docker-archive <out.tar>", "instead of the store: write a tarball for `docker load`")
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "with --docker-archive: the platform docker gets from multi-platform images (default: this machine's)",
      collect,
    )
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress")
    .action(async (bundle: string, flags: LoadFlags) => {
      const { runLoad } = await import("./load.run.js");
      await runLoad(bundle, flags);
    });
}

import type { Command } from "commander";
import { destinationForms, destinationOptions, listForms } from "../../transports/table.js";
import { addTransportOptions, addTrustOptions, collect, positiveInteger } from "../context.js";
import { addCosignOptions, type CosignFlags } from "../cosign-options.js";
import { addPushOptions, type LoadPushFlags } from "./push.js";

export interface LoadFlags extends LoadPushFlags, CosignFlags {
  to?: string;
  store?: string;
  jobs?: number;
  json?: boolean;
  quiet?: boolean;
  latest?: boolean;
  dockerArchive?: string;
  toDocker?: boolean;
  toContainerd?: boolean;
  platform?: string[];
  allowDowngrade?: boolean;
  partsFrom?: string;
}

export function registerLoad(program: Command): void {
  const command = addPushOptions(program.command("load"), {
    toRegistry: "same as --to registry:HOST[:PORT][/PREFIX]",
    dryRun:
      "verify the bundle and show what the load would do (new/updated/unchanged per image, blobs and bytes to write) into the destination; write nothing",
    helpLast: true,
  })
    .description("verify a bundle and install its images into the local store, atomically")
    .argument("<bundle>", "the bundle zip, or a split bundle's .parts file (or its .001 part)")
    .option(
      "--to <destination>",
      `where the images go: ${listForms(destinationForms())} (default: store, the local store)`,
    )
    .option("--store <dir>", "same as --to store:DIR (default: $FERRY_STORE or the per-OS default)")
    .option("-j, --jobs <n>", "blob writes at once", positiveInteger)
    .option("--no-latest", "do not move OS images' latest tags to the newest installed version");
  addTrustOptions(command);
  addCosignOptions(command)
    .option(
      "--allow-downgrade",
      "load a bundle older than one loaded before (lower signed sequence, or an older bundle's image under a name)",
    )
    .option(
      "--parts-from <dir>",
      "a split bundle: read the volumes found in DIR (a part rebuilt by ferry repair --out DIR) instead of those beside .parts",
    )
    .option("--docker-archive <out.tar>", "same as --to docker-archive:OUT.tar")
    .option("--to-docker", "same as --to docker (the engine: --docker-host, else $DOCKER_HOST)")
    .option(
      "--to-containerd",
      "same as --to containerd (the socket: --address, else $CONTAINERD_ADDRESS; --namespace)",
    )
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "with --to docker or docker-archive: the platform docker gets from multi-platform images (default: the engine's with --to docker, this machine's for a tarball); with --to containerd: the platforms kept (default: all)",
      collect,
    );
  addTransportOptions(command, destinationOptions())
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress")
    .action(async (bundle: string, flags: LoadFlags) => {
      const { runLoad } = await import("./load.run.js");
      await runLoad(bundle, flags);
    });
}

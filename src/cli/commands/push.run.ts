import { UsageError } from "../../errors.js";
import { pushStoreImages } from "../../ops/push.js";
import { toolName } from "../context.js";
import { chooseDestination } from "../destination.js";
import { createOutput } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import { describePush, type PushCommandFlags } from "./push.js";

/** `ferry push REF DEST` or `ferry push --to registry:HOST REF...` (see ./push.ts). */
export async function runPush(args: string[], flags: PushCommandFlags): Promise<void> {
  const out = createOutput(flags);
  const chosen = chooseDestination(
    [
      { flag: "--to", value: flags.to },
      { flag: "--to-registry", value: flags.toRegistry, kind: "registry" },
    ],
    ["registry"],
  );
  let what: Parameters<typeof pushStoreImages>[1];
  if (chosen?.spec.transport === "registry") {
    what = { refs: args, target: chosen.spec };
  } else {
    if (args.length !== 2) {
      throw new UsageError("ferry push takes REF DEST (or REF... with --to registry:HOST)", {
        hint: "e.g. ferry push alpine:3.19 registry.lan:5000/library/alpine:3.19",
      });
    }
    const [ref, dest] = args as [string, string];
    what = { ref, dest };
  }
  const report = await pushStoreImages(resolveStoreDir(flags.store), what, {
    registry: flags,
    userAgent: toolName(),
    stripForeignUrls: flags.stripForeignUrls === true,
    ...(flags.chunkSize !== undefined ? { chunkMiB: flags.chunkSize } : {}),
    dryRun: flags.dryRun === true,
    ...(flags.jobs ? { jobs: flags.jobs } : {}),
    progress: (operation) => createProgress(operation, !flags.json && !flags.quiet),
    onNote: out.note,
  });
  out.result(report, () => describePush(report));
}

import { pullImages } from "../../ops/pull.js";
import {
  describeDefaultPlatform,
  hostPlatform,
  openRegistrySession,
} from "../../ops/registry-options.js";
import { summarizeAttached } from "../../types/attached.js";
import { attachedSelection } from "../attached-selection.js";
import { platformSelector, toolName } from "../context.js";
import { chooseDestination } from "../destination.js";
import { cancellation, interruptSignal } from "../interrupt.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import { describeTransfer, type PullFlags } from "./pull.js";

/** `ferry pull REF...` (loaded when the command runs: see ./pull.ts). */
export async function runPull(references: string[], flags: PullFlags): Promise<void> {
  const out = createOutput(flags);
  const { spec } = chooseDestination(
    [
      { flag: "--to", value: flags.to },
      { flag: "--store", value: flags.store, kind: "store" },
    ],
    ["store"],
    "store",
  );
  const storeDir = resolveStoreDir(spec.transport === "store" ? spec.dir : undefined);
  const attached = attachedSelection(flags.attached);
  const defaultPlatform = hostPlatform();
  const platforms = platformSelector(flags.platform, [defaultPlatform]);
  if (!flags.platform?.length) out.note(describeDefaultPlatform(defaultPlatform));
  const refs = references.map((ref) =>
    ref.startsWith("docker://") ? ref.slice("docker://".length) : ref,
  );
  const session = await openRegistrySession(flags, {
    onNote: out.note,
    userAgent: toolName(),
    signal: interruptSignal(),
  });
  try {
    const progress = createProgress("pulling", !flags.json && !flags.quiet);
    const report = await pullImages(refs, {
      storeDir,
      platforms,
      session,
      onEvent: progress.onEvent,
      onNote: out.note,
      ...(attached === undefined ? {} : { attached }),
      ...(flags.jobs ? { jobs: flags.jobs } : {}),
      // From here the first Ctrl-C stops the copy cleanly (see cli/interrupt.ts).
      signal: cancellation(),
    }).finally(progress.stop);
    const anyAttached = report.images.some((i) => i.attached);
    out.result(report, () =>
      [
        formatTable(
          ["IMAGE", "PLATFORMS", "STATUS", "DIGEST", ...(anyAttached ? ["ATTACHED"] : [])],
          report.images.map((i) => [
            i.ref,
            i.platforms.join(",") || "-",
            i.previous ? `${i.status} (was ${i.previous.slice(0, 19)})` : i.status,
            i.digest,
            ...(anyAttached ? [summarizeAttached(i.attached) || "-"] : []),
          ]),
        ),
        "",
        `pulled ${report.images.length} image(s) into ${report.store}: ${report.blobsWritten} blobs written (${formatSize(report.bytesWritten)}), ${report.blobsSkipped} already present (${formatSize(report.bytesSkipped)}); ${describeTransfer(report.transfer)}; in ${formatSeconds(report.seconds)}`,
      ].join("\n"),
    );
  } finally {
    await session.close();
  }
}

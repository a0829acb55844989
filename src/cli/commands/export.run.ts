import { UsageError } from "../../errors.js";
import { exportImages } from "../../ops/export.js";
import { hostPlatform } from "../../ops/registry-options.js";
import { copyDestinationKinds, destinationRole } from "../../transports/table.js";
import { platformSelector } from "../context.js";
import { chooseDestination } from "../destination.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import type { ExportFlags } from "./export.js";

/** `ferry export REF... --to docker-archive:FILE` (loaded when the command runs: see ./export.ts). */
export async function runExport(refs: string[], flags: ExportFlags): Promise<void> {
  const out = createOutput(flags);
  const { spec } = chooseDestination(
    [
      { flag: "--to", value: flags.to },
      { flag: "-o", value: flags.output, kind: "docker-archive" },
    ],
    copyDestinationKinds(),
    new UsageError("export needs a destination: --to docker-archive:FILE (or -o FILE)"),
  );
  const copy = destinationRole(spec).copy;
  const next = copy?.nextStep?.(spec);
  const progress = createProgress("exporting", !flags.json && !flags.quiet);
  const report = await exportImages(resolveStoreDir(flags.store), refs, {
    destination: spec,
    platforms: platformSelector(flags.platform, [hostPlatform()]),
    onEvent: progress.onEvent,
    onNote: out.note,
  }).finally(progress.stop);
  out.result(report, () =>
    [
      formatTable(
        ["IMAGE", copy?.nameHeading ?? "NAME", "PLATFORM", "DIGEST"],
        report.images.map((i) => [i.ref, i.repoTag ?? "-", i.platforms.join(","), i.digest]),
      ),
      "",
      `wrote ${report.output}: ${report.images.length} image(s), ${report.blobs} blobs (${formatSize(report.bytes)}) in ${formatSeconds(report.seconds)}${next ? `; run: ${next}` : ""}`,
    ].join("\n"),
  );
}

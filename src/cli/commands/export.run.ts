import { UsageError } from "../../errors.js";
import { exportImages } from "../../ops/export.js";
import {
  copyDestinationKinds,
  destinationOptions,
  destinationRole,
  optionValues,
} from "../../transports/table.js";
import { platformSelector } from "../context.js";
import { chooseDestination, defaultPlatforms } from "../destination.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { resolveStoreDir } from "../store-location.js";
import { copyTable, skippedLines } from "./copy-lines.js";
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
    optionValues(flags, destinationOptions(copyDestinationKinds())),
  );
  const copy = destinationRole(spec).copy;
  const next = copy?.nextStep?.(spec);
  const progress = createProgress("exporting", !flags.json && !flags.quiet);
  const report = await exportImages(resolveStoreDir(flags.store), refs, {
    destination: spec,
    platforms: platformSelector(flags.platform, await defaultPlatforms(spec, flags.platform)),
    onEvent: progress.onEvent,
    onNote: out.note,
  }).finally(progress.stop);
  out.result(report, () =>
    [
      report.images.some((i) => i.status)
        ? copyTable(report, copy?.nameHeading)
        : formatTable(
            ["IMAGE", copy?.nameHeading ?? "NAME", "PLATFORM", "DIGEST"],
            report.images.map((i) => [i.ref, i.repoTag ?? "-", i.platforms.join(","), i.digest]),
          ),
      ...skippedLines(report),
      "",
      `wrote ${report.output}: ${report.images.length} image(s), ${report.blobs} blobs (${formatSize(report.bytes)}) in ${formatSeconds(report.seconds)}${next ? `; run: ${next}` : ""}`,
    ].join("\n"),
  );
}

import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { saveBundle } from "../../ops/save.js";
import type { Source } from "../../types/transport.js";
import { collect, platformSelector, positiveInteger, toolName } from "../context.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { openSource, parseSourceSpec } from "../source-spec.js";

interface SaveFlags {
  output?: string;
  platform?: string[];
  jobs?: number;
  json?: boolean;
  quiet?: boolean;
}

export function registerSave(program: Command): void {
  program
    .command("save")
    .description("save images into one checksummed bundle (a zip holding an OCI layout)")
    .argument("<source...>", "oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF|@N]")
    .requiredOption("-o, --output <bundle.zip>", "the bundle to write (appears only when complete)")
    .option(
      "--platform <os/arch[/variant][:os.version]>",
      "platform(s) to keep, repeatable, or 'all' (default: all)",
      collect,
    )
    .option("-j, --jobs <n>", "blob transfers at once", positiveInteger)
    .option("--json", "print a JSON summary")
    .option("-q, --quiet", "no progress or notes")
    .action(async (specs: string[], flags: SaveFlags) => {
      const out = createOutput(flags);
      if (!flags.output) throw new UsageError("save needs -o BUNDLE.zip");
      const sources: Source[] = [];
      try {
        for (const spec of specs) sources.push(await openSource(parseSourceSpec(spec)));
        const progress = createProgress("saving", !flags.json && !flags.quiet);
        const report = await saveBundle(sources, {
          output: flags.output,
          platforms: platformSelector(flags.platform, "all"),
          tool: toolName(),
          onEvent: progress.onEvent,
          ...(flags.jobs ? { jobs: flags.jobs } : {}),
        }).finally(progress.stop);
        const { manifest: _manifest, ...summary } = report;
        out.result(summary, () =>
          [
            formatTable(
              ["IMAGE", "PLATFORMS", "DIGEST", "SIZE"],
              report.images.map((i) => [
                i.ref,
                i.platforms.join(",") || "-",
                i.digest,
                formatSize(i.size),
              ]),
            ),
            "",
            `saved ${report.images.length} image(s), ${report.blobs} blobs (${formatSize(report.bytes)}) to ${report.bundle} in ${formatSeconds(report.seconds)}`,
          ].join("\n"),
        );
      } finally {
        for (const source of sources) await source.close().catch(() => {});
      }
    });
}

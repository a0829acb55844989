import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import type { StoredImage } from "../../ops/images.js";
import { extractOsImage } from "../../ops/wim-extract.js";
import type { LatestMove, LoadedOsImage } from "../../ops/wim-load.js";
import { shortOsImageName, wimImageRole } from "../../transports/wim/artifact.js";
import { readWimInfo } from "../../transports/wim/reader.js";
import type { BundleOsImage } from "../../types/bundle.js";
import { shortDigest } from "../../types/digest.js";
import { legacyFullName } from "../../types/wim.js";
import { createOutput, formatSeconds, formatSize, formatTable } from "../output.js";
import type { SourceSpec } from "../source-spec.js";
import { resolveStoreDir } from "../store-location.js";
import { runWimSearch } from "./search-wim.js";

function imageIndex(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--index ${value} is not an image number (1, 2, ...)`);
  return n;
}

/** `ferry wim info|search|extract`: Windows base OS image (.wim) tools. */
export function registerWim(program: Command): void {
  const wim = program
    .command("wim")
    .description(
      "Windows base OS images (.wim): look into files and folders, extract installed ones",
    );

  wim
    .command("info")
    .description("show what a .wim file says about itself (header and XML; bytes are not verified)")
    .argument("<file>", "a .wim file")
    .option("--json", "print JSON")
    .action(async (file: string, flags: { json?: boolean }) => {
      const out = createOutput(flags);
      const info = await readWimInfo(file);
      out.result(info, () => {
        const base = info.images.find((i) => i.index === 1);
        const lines = [
          `file:         ${info.path} (${formatSize(info.size)})`,
          `compression:  ${info.compression}, integrity table: ${info.hasIntegrityTable ? "yes" : "no"}, part ${info.partNumber} of ${info.totalParts}`,
        ];
        if (base?.name && base.version) {
          lines.push(`full name:    ${legacyFullName(base.name, base.version)}`);
        }
        lines.push(
          "",
          formatTable(
            ["INDEX", "NAME", "VERSION", "ARCH", "ROLE", "SIZE"],
            info.images.map((i) => [
              String(i.index),
              i.name ?? "-",
              i.version ?? "-",
              i.architecture ?? "-",
              wimImageRole(i.index),
              i.totalBytes === undefined ? "-" : formatSize(i.totalBytes),
            ]),
          ),
        );
        return lines.join("\n");
      });
    });

  wim
    .command("search")
    .description(
      "list the .wim files of a folder or file share (name, version, architecture, size)",
    )
    .argument("<dir>", "the folder")
    .option("-r, --recursive", "also look in sub-folders")
    .option("--json", "print JSON")
    .action(async (dir: string, flags: { json?: boolean; recursive?: boolean }) => {
      await runWimSearch(dir, flags);
    });

  wim
    .command("extract")
    .description("apply an installed OS image to a folder with wimlib-imagex (from wimtools)")
    .argument("<ref>", "nanoserver:10.0.14300.1010, windowsservercore:latest or CN=Microsoft_...")
    .argument("<dir>", "a new or empty folder")
    .option("--index <n>", "the WIM image to apply (1: container base, 2: utility VM)", imageIndex)
    .option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)")
    .option("--json", "print JSON")
    .action(
      async (
        ref: string,
        dir: string,
        flags: { index?: number; store?: string; json?: boolean },
      ) => {
        const out = createOutput(flags);
        const report = await extractOsImage(resolveStoreDir(flags.store), ref, dir, {
          ...(flags.index ? { index: flags.index } : {}),
        });
        out.result(
          report,
          () =>
            `extracted image ${report.index} (${report.imageName}) of ${report.ref} (${report.fullName}) to ${report.target} in ${formatSeconds(report.seconds)}`,
        );
      },
    );
}

/**
 * Give each `.wim` source its `--sha256`, in order: the Nth value belongs to the Nth WIM
 * source. A count that does not match is a usage error (a value must not land on the wrong file).
 */
export function assignWimSha256(specs: SourceSpec[], values: string[] | undefined): SourceSpec[] {
  const list = values ?? [];
  const wims = specs.filter((spec) => spec.transport === "wim");
  if (list.length === 0) return specs;
  if (list.length !== wims.length) {
    throw new UsageError(
      `${list.length} --sha256 value(s) for ${wims.length} .wim source(s): give one per WIM, in order`,
    );
  }
  let next = 0;
  return specs.map((spec) =>
    spec.transport === "wim" ? { ...spec, sha256: list[next++] as string } : spec,
  );
}

/** Lines describing OS images (save and inspect summaries). */
export function osImageLines(osImages: BundleOsImage[] | undefined): string[] {
  if (!osImages || osImages.length === 0) return [];
  return [
    "",
    formatTable(
      ["OS IMAGE", "VERSION", "ARCH", "FULL NAME", "WIM IMAGES", "SIZE"],
      osImages.map((o) => [
        `${shortOsImageName(o.ref).split(":")[0]}`,
        o.version,
        o.architecture,
        o.fullName,
        o.images.map((name, i) => `${i + 1}: ${name || "?"} (${wimImageRole(i + 1)})`).join(", "),
        formatSize(o.size),
      ]),
    ),
  ];
}

/** What `ferry load` says about OS images: each one installed, and every `latest` that moved. */
export function loadedOsImageLines(report: {
  osImages: LoadedOsImage[];
  latestMoved: LatestMove[];
}): string[] {
  if (report.osImages.length === 0) return [];
  const lines = [
    "",
    ...report.osImages.map(
      (o) =>
        `OS image ${shortOsImageName(o.ref)}: ${o.fullName}, windows/${o.architecture}, ${o.imageCount} WIM image(s): ${o.images.map((name, i) => `${i + 1} ${name || "?"} (${wimImageRole(i + 1)})`).join(", ")}`,
    ),
  ];
  for (const move of report.latestMoved) {
    const from = move.fromVersion
      ? ` (was ${move.fromVersion})`
      : move.from
        ? " (was another image)"
        : " (new)";
    lines.push(`tag ${shortOsImageName(move.ref)} -> ${move.version}${from}`);
  }
  return lines;
}

/** The OS image table of `ferry images` (all of `ferry images --os`); empty when there are none. */
export function osImagesTable(images: StoredImage[], fullDigests: boolean): string {
  const rows = images.filter((i) => i.kind === "os-image");
  if (rows.length === 0) return "";
  return formatTable(
    ["OS IMAGE", "TAG", "KIND", "VERSION", "ARCH", "FULL NAME", "DIGEST", "SIZE"],
    rows.map((i) => [
      i.repository,
      i.tag,
      i.kind,
      i.os?.version ?? "-",
      i.os?.architecture ?? "-",
      i.os?.fullName ?? (i.error ? `DAMAGED: ${i.error}` : "-"),
      fullDigests ? i.digest : shortDigest(i.digest),
      formatSize(i.size),
    ]),
  );
}

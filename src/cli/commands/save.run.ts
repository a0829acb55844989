import path from "node:path";
import { UsageError } from "../../errors.js";
import { readDeltaBase } from "../../ops/delta-base.js";
import { type SaveRequest, saveFromSources } from "../../ops/save-sources.js";
import {
  checkSourceOptions,
  optionValues,
  parseSource,
  resolveSourcePaths,
  type SourceSpec,
  sourceOptions,
  sourceRole,
} from "../../transports/table.js";
import { loadSigner } from "../../trust/sequence.js";
import { summarizeAttached } from "../../types/attached.js";
import { attachedSelection } from "../attached-selection.js";
import { platformSelector, toolName } from "../context.js";
import { cancellation, interruptSignal } from "../interrupt.js";
import { createOutput, escapeControls, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { osImageLines } from "./os-image-lines.js";
import { describeOmitted, describeTransfer } from "./pull.js";
import { partsLines } from "./repair.js";
import type { SaveFlags } from "./save.js";

/** `ferry save SOURCE... -o BUNDLE.zip` (loaded when the command runs: see ./save.ts). */
export async function runSave(specs: string[], flags: SaveFlags): Promise<void> {
  const out = createOutput(flags);
  if (!flags.output) throw new UsageError("save needs -o BUNDLE.zip");
  if (flags.sequence !== undefined && !flags.sign) {
    throw new UsageError("--sequence needs --sign: only signed bundles carry a sequence");
  }
  if (flags.parity && !flags.split) {
    throw new UsageError("--parity needs --split: parity rebuilds a lost part of a split bundle", {
      hint: "add --split SIZE (e.g. --split fat32), or leave out --parity",
    });
  }
  const requests: SaveRequest[] = [
    ...pinSha256(specs.map(parseSource), flags.sha256).map((spec) => ({ spec })),
    ...(await listedRequests(flags.file)),
  ];
  if (requests.length === 0) {
    throw new UsageError("save needs at least one source, or -f IMAGES.yaml");
  }
  const settings = optionValues(flags, sourceOptions());
  checkSourceOptions(
    requests.map((request) => request.spec),
    settings,
  );
  const since = flags.since ? await readDeltaBase(flags.since) : undefined;
  const signer = flags.sign ? await loadSigner(flags.sign, flags.sequence) : undefined;
  const attached = attachedSelection(flags.attached);
  const progress = createProgress("saving", !flags.json && !flags.quiet);
  const { report, omitted, transfer } = await saveFromSources(requests, {
    registry: flags,
    settings,
    userAgent: toolName(),
    ...(flags.platform?.length ? { platforms: platformSelector(flags.platform, "all") } : {}),
    skipForeign: Boolean(flags.skipForeign),
    onNote: out.note,
    ...(attached === undefined ? {} : { attached }),
    output: flags.output,
    tool: toolName(),
    ...(since ? { since } : {}),
    ...(signer ? { signer } : {}),
    ...(flags.split ? { split: { partSize: flags.split, parity: Boolean(flags.parity) } } : {}),
    onEvent: progress.onEvent,
    ...(flags.jobs ? { jobs: flags.jobs } : {}),
    interrupt: interruptSignal(),
    // From the copy on, the first Ctrl-C stops it cleanly (see cli/interrupt.ts).
    cancellation,
  }).finally(progress.stop);
  if (omitted.length > 0) out.note(describeOmitted(omitted));
  if (transfer) out.note(describeTransfer(transfer));
  const { manifest, ...rest } = report;
  const summary = { ...rest, osImages: manifest.osImages ?? [] };
  const anyAttached = report.images.some((i) => i.attached);
  out.result(summary, () =>
    [
      formatTable(
        [
          "IMAGE",
          "PLATFORMS",
          "DIGEST",
          "SIZE",
          ...(anyAttached ? ["ATTACHED"] : []),
          ...(since ? ["STATUS"] : []),
        ],
        report.images.map((i) => [
          i.ref,
          i.platforms.join(",") || (i.artifactType ? "(artifact)" : "-"),
          i.digest,
          formatSize(i.size),
          ...(anyAttached ? [summarizeAttached(i.attached) || "-"] : []),
          ...(since ? [describeStatus(i.status, i.previous)] : []),
        ]),
      ),
      ...osImageLines(manifest.osImages),
      "",
      `saved ${report.images.length} image(s), ${report.blobs} blobs (${formatSize(report.bytes)}) to ${report.bundle} in ${formatSeconds(report.seconds)}`,
      ...(since
        ? [
            `delta against ${escapeControls(since.base.description ?? "its base")}: ${report.requires} blob(s) (${formatSize(report.requiredBytes)}) left out; the offline side must have them`,
          ]
        : []),
      ...(report.signedBy
        ? [
            `signed with key ${report.signedBy}${report.sequence ? `, sequence ${report.sequence}` : ""}`,
          ]
        : []),
      ...(report.parts ? partsLines(report.parts, report.bundle, report.files) : []),
    ].join("\n"),
  );
}

/**
 * The sources of an image list (`-f IMAGES.yaml`; the YAML library loads only then): paths
 * relative to the list's folder, each with its own sha256 and platforms when the list gives them.
 */
async function listedRequests(file: string | undefined): Promise<SaveRequest[]> {
  if (!file) return [];
  const { readImageList } = await import("../../ops/image-list.js");
  const baseDir = path.dirname(path.resolve(file));
  return (await readImageList(file)).map((entry) => {
    const spec = resolveSourcePaths(parseSource(entry.source), baseDir);
    const pinned = entry.sha256 && sourceRole(spec).pinnable;
    return {
      spec: pinned ? { ...spec, sha256: entry.sha256 } : spec,
      ...(entry.platforms ? { platforms: platformSelector(entry.platforms, "all") } : {}),
    };
  });
}

/**
 * Give each source that is one file of known sha256 (a `.wim`) its `--sha256`, in order: the
 * Nth value belongs to the Nth such source. A count that does not match is a usage error (a
 * value must not land on the wrong file).
 */
export function pinSha256(specs: SourceSpec[], values: string[] | undefined): SourceSpec[] {
  const list = values ?? [];
  const pinnable = (spec: SourceSpec) => sourceRole(spec).pinnable === true;
  const files = specs.filter(pinnable);
  if (list.length === 0) return specs;
  if (list.length !== files.length) {
    throw new UsageError(
      `${list.length} --sha256 value(s) for ${files.length} .wim source(s): give one per WIM, in order`,
    );
  }
  let next = 0;
  return specs.map((spec) => (pinnable(spec) ? { ...spec, sha256: list[next++] as string } : spec));
}

function describeStatus(status: string | undefined, previous: string | undefined): string {
  if (status === "updated" && previous) return `updated (was ${previous.slice(0, 19)})`;
  return status ?? "-";
}

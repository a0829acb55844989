import path from "node:path";
import { UsageError } from "../../errors.js";
import { readDeltaBase } from "../../ops/delta-base.js";
import {
  describeDefaultPlatform,
  downloadLimitsFromFlags,
  downloadNetworkFromFlags,
  hostPlatform,
  openRegistrySession,
} from "../../ops/registry-options.js";
import { saveBundle } from "../../ops/save.js";
import type { RegistrySession } from "../../transports/registry/session.js";
import type { RegistrySource } from "../../transports/registry/source.js";
import { loadSigner } from "../../trust/sequence.js";
import type { PlatformSelector } from "../../types/platform.js";
import type { Source } from "../../types/transport.js";
import { isHttpUrl, redactUrl } from "../../types/url.js";
import { platformSelector, toolName } from "../context.js";
import { cancellation, interruptSignal } from "../interrupt.js";
import { createOutput, escapeControls, formatSeconds, formatSize, formatTable } from "../output.js";
import { createProgress } from "../progress.js";
import { openSource, parseSourceSpec, resolveSpecPath, type SourceSpec } from "../source-spec.js";
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
  const sources: Source[] = [];
  let session: RegistrySession | undefined;
  try {
    const tempDir = path.dirname(path.resolve(flags.output));
    const platformOverrides = new Map<SourceSpec, PlatformSelector>();
    // The image list parser (and the YAML library) is loaded only for -f.
    const imageList = flags.file
      ? await (await import("../../ops/image-list.js")).readImageList(flags.file)
      : [];
    const listedSpecs = imageList.map((entry) => {
      const spec = resolveSpecPath(
        parseSourceSpec(entry.source),
        path.dirname(path.resolve(flags.file as string)),
      );
      if (entry.sha256 && spec.transport === "wim") spec.sha256 = entry.sha256;
      if (entry.platforms) platformOverrides.set(spec, platformSelector(entry.platforms, "all"));
      return spec;
    });
    const parsedSpecs = [
      ...assignWimSha256(specs.map(parseSourceSpec), flags.sha256),
      ...listedSpecs,
    ];
    if (parsedSpecs.length === 0) {
      throw new UsageError("save needs at least one source, or -f IMAGES.yaml");
    }
    const sourcePlatforms = new Map<Source, PlatformSelector>();
    const sourceTransports = new Map<Source, SourceSpec["transport"]>();
    if (parsedSpecs.some((spec) => spec.transport === "docker")) {
      // One bundle file: downloads go straight into it (split volumes: through the cache).
      session = await openRegistrySession(flags, {
        onNote: out.note,
        userAgent: toolName(),
        direct: !flags.split,
        signal: interruptSignal(),
      });
    }
    const registry = session ? { session, skipForeign: Boolean(flags.skipForeign) } : undefined;
    const wimNetwork = parsedSpecs.some((spec) => spec.transport === "wim")
      ? await downloadNetworkFromFlags(flags, { userAgent: toolName() })
      : undefined;
    for (const spec of parsedSpecs) {
      if (spec.transport === "wim") {
        out.note(
          isHttpUrl(spec.location)
            ? `downloading ${redactUrl(spec.location)} (hashed on the way: its manifest names its sha256)`
            : `reading ${spec.location} once to compute its sha256 (its manifest names it)`,
        );
      }
      const source = await openSource(spec, {
        tempDir,
        wimDownload: downloadLimitsFromFlags(flags),
        ...(wimNetwork ? { wimNetwork } : {}),
        ...(registry ? { registry } : {}),
      });
      sources.push(source);
      sourceTransports.set(source, spec.transport);
      const override = platformOverrides.get(spec);
      if (override) sourcePlatforms.set(source, override);
    }
    const progress = createProgress("saving", !flags.json && !flags.quiet);
    const platforms = platformSelector(flags.platform, "all");
    const registryPlatforms = flags.platform?.length ? platforms : [hostPlatform()];
    if (session && !flags.platform?.length) out.note(describeDefaultPlatform(hostPlatform()));
    const since = flags.since ? await readDeltaBase(flags.since) : undefined;
    const signer = flags.sign ? await loadSigner(flags.sign, flags.sequence) : undefined;
    const report = await saveBundle(
      sources.map((source) => ({
        source,
        // A .wim named on the command line is always wanted, whatever --platform says.
        platforms:
          sourcePlatforms.get(source) ??
          (sourceTransports.get(source) === "docker"
            ? registryPlatforms
            : sourceTransports.get(source) === "wim"
              ? "all"
              : platforms),
      })),
      {
        output: flags.output,
        tool: toolName(),
        ...(since ? { since } : {}),
        ...(signer ? { signer } : {}),
        ...(flags.split ? { split: { partSize: flags.split, parity: Boolean(flags.parity) } } : {}),
        onEvent: progress.onEvent,
        ...(flags.jobs ? { jobs: flags.jobs } : {}),
        ...(session ? { downloads: session } : {}),
        // From here the first Ctrl-C stops the copy cleanly (see cli/interrupt.ts).
        signal: cancellation(),
      },
    )
      .catch(async (error: unknown) => {
        throw session ? await session.explainFailure(error) : error;
      })
      .finally(progress.stop);
    const omitted = sources.flatMap((s) =>
      sourceTransports.get(s) === "docker" ? (s as RegistrySource).omitted : [],
    );
    if (omitted.length > 0) out.note(describeOmitted(omitted));
    if (session) out.note(describeTransfer(session.stats));
    const { manifest, ...rest } = report;
    const summary = { ...rest, osImages: manifest.osImages ?? [] };
    out.result(summary, () =>
      [
        formatTable(
          ["IMAGE", "PLATFORMS", "DIGEST", "SIZE", ...(since ? ["STATUS"] : [])],
          report.images.map((i) => [
            i.ref,
            i.platforms.join(",") || "-",
            i.digest,
            formatSize(i.size),
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
  } finally {
    for (const source of sources) await source.close().catch(() => {});
    await session?.close();
  }
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

function describeStatus(status: string | undefined, previous: string | undefined): string {
  if (status === "updated" && previous) return `updated (was ${previous.slice(0, 19)})`;
  return status ?? "-";
}

/**
 * The shape of one line of the transport table (./table.ts): how a transport is written on the
 * command line, how its argument parses, and how it opens as a source or a sink.
 *
 * An entry is loaded on every run of ferry (the CLI's help and argument checks read it), so its
 * module imports only errors, pure `types/` modules and this file; its `open` functions
 * `import()` the transport's code when a command uses it (docs/architecture.md, "CLI start-up").
 */

import type { Descriptor } from "../types/descriptor.js";
import type { Platform, PlatformSpec } from "../types/platform.js";
import type { Sink, Source } from "../types/transport.js";
import type { RegistrySession } from "./registry/session.js";
import type { PathFunctions } from "./spec-path.js";
import type { WimDownloadLimits, WimNetwork } from "./wim/download.js";

/** A parsed argument: which transport, and what it names there. */
export interface Spec {
  transport: string;
}

/**
 * A command-line option a transport owns (`--docker-host URL`): the commands whose role uses
 * it (save for sources; load and export for destinations) add it, and hand its value to the
 * transport (`SourceContext.settings`, `DestinationRole.parse`). Given to a command whose
 * source or destination does not take it, it is a usage error.
 */
export interface TransportOption {
  /** As commander takes it: `--docker-host <url>`. */
  readonly flags: string;
  /** Where its value is found in `TransportSettings` (commander's name for it: `dockerHost`). */
  readonly key: string;
  readonly help: string;
}

/** The values of transport options given on the command line, by `TransportOption.key`. */
export type TransportSettings = Readonly<Record<string, string | undefined>>;

/** What opening a source may need besides its argument (each source reads what it uses). */
export interface SourceContext {
  /** Values of transport options (`--docker-host`), for the sources that declared them. */
  settings?: TransportSettings;
  /** ferry's cache folder: where a source may keep a temp copy while saving (removed on close). */
  cacheDir?: string;
  /** Where downloads are kept while saving (the bundle's folder: same disk, room for it). */
  tempDir?: string;
  /** Timeouts and speed floor of file downloads (the registry flags). */
  downloadLimits?: WimDownloadLimits;
  /** Proxies and extra CAs of file downloads (the registry flags and the environment). */
  downloadNetwork?: WimNetwork;
  /** The registry session (clients, download cache) of registry sources. */
  registry?: { session: RegistrySession; skipForeign?: boolean };
  /** Notes for the user (what is about to take a while). */
  onNote?: (text: string) => void;
  /**
   * Every source of the same command, this one included, and a place its sources share work
   * in: the `docker-daemon:` images of one engine come from one export.
   */
  batch?: { specs: ReadonlyArray<{ transport: string }>; shared: Map<string, unknown> };
}

/** What a source needs opened first: a registry session, or the download settings. */
export type SourceNeed = "registry" | "network";

/**
 * The platforms taken from a source when the command line names none for it: the `--platform`
 * choice (all by default), this machine's unless `--platform` says otherwise (registries), or
 * always all (a WIM file is one OS image, named on purpose).
 */
export type PlatformDefault = "chosen" | "host" | "all";

export interface SourceRole<S extends Spec> {
  /** How it is written, for help, docs and completion: `oci:DIR[:REF]`. */
  readonly forms: readonly string[];
  /** The prefixes that name it (`oci:`); the longest matching prefix of the table wins. */
  readonly prefixes: readonly string[];
  /** The argument after its prefix, parsed (`text` is the whole argument, for messages). */
  parse(rest: string, text: string): S;
  /**
   * An argument that starts with no known prefix: this transport's spec when the argument
   * names one (a `.wim` path, an image reference), else undefined. Asked in table order.
   */
  recognize?(text: string): S | undefined;
  /** A relative path made absolute against a folder (an image list's); the spec as it is else. */
  resolve?(spec: S, baseDir: string, paths: PathFunctions): S;
  readonly platforms: PlatformDefault;
  readonly needs?: readonly SourceNeed[];
  /** The source is one file whose sha256 may be given beforehand (`--sha256`, image lists). */
  readonly pinnable?: boolean;
  /** Options of its own the commands taking sources add (`--docker-host`). */
  readonly options?: readonly TransportOption[];
  open(spec: S, context: SourceContext): Promise<Source>;
}

/** What a copy destination is told of each image before the copy (the engine's plan of it). */
export interface PlannedImage {
  readonly name: string;
  /** What the name points at after the copy (a manifest, or an index). */
  readonly root: Descriptor;
  readonly platforms: readonly Platform[];
  /** Its manifests' verified bytes, children before the index that names them. */
  readonly manifests: ReadonlyArray<{ descriptor: Descriptor; bytes: Buffer }>;
}

/** What became of one image at a destination that can tell (a container engine). */
export interface ImageOutcome {
  /** The image's name in the plan. */
  name: string;
  /** It was not there; it was there under that name with other content; it was there as it is. */
  status: "new" | "updated" | "unchanged";
  /** The identity the destination gives it (docker: the image ID; containerd: the digest). */
  id: string;
  /** What the name pointed at before, when it was updated. */
  previous?: string;
}

/** The sink of a copy destination: a sink, and what became of each image once committed. */
export interface CopySink extends Sink {
  /** After `commit()`: one outcome per image, checked at the destination. */
  outcomes?(): ImageOutcome[];
}

/**
 * A destination that takes a plain copy: open, copy the planned images, commit. (The store and
 * registries have commit protocols of their own: anti-rollback records, names moved under the
 * store lock, every blob verified before a registry that cannot roll back sees one. Their ops
 * build their sinks.)
 */
export interface CopyDestination<D extends Spec> {
  /** Where the copy lands, as reports name it (a file). */
  location(spec: D): string;
  /**
   * It takes one platform per image, and why (`docker load takes one platform`): a
   * multi-platform image is refused before anything is written.
   */
  readonly onePlatform?: string;
  /**
   * The platform it runs, for `onePlatform` when `--platform` names none (a Docker engine's
   * OS and architecture); undefined, or absent: this machine's.
   */
  defaultPlatform?(spec: D): Promise<PlatformSpec | undefined>;
  /** It takes container images only, not Windows base OS images. */
  readonly containerImagesOnly: boolean;
  /** The name an image gets there, when it gets one (docker's `repo:tag`). */
  nameOf(image: string): string | undefined;
  /** The heading of that name in tables. */
  readonly nameHeading: string;
  /** What the user runs next with the result, if anything. */
  nextStep?(spec: D): string;
  /**
   * Open the sink for these planned images (already filtered and platform-checked). It may
   * refuse them up front, before anything is written (an engine of another OS), and note what
   * each name held before (an engine's new/updated/unchanged).
   */
  openSink(spec: D, images: readonly PlannedImage[]): Promise<CopySink>;
}

export interface DestinationRole<D extends Spec> {
  /** How it is written after `--to`: `store[:DIR]`. */
  readonly forms: readonly string[];
  readonly help: string;
  /** Options of its own the commands taking it add (`--namespace`). */
  readonly options?: readonly TransportOption[];
  /**
   * What follows `KIND:` (undefined: nothing did), with the values of its options (`settings`).
   */
  parse(rest: string | undefined, text: string, settings: TransportSettings): D;
  readonly copy?: CopyDestination<D>;
}

/** One transport: its name (the prefix before the colon) and what it can be. */
export interface TransportEntry<S extends Spec = Spec, D extends Spec = Spec> {
  readonly name: string;
  /** One line about it, for the docs' transport table. */
  readonly summary: string;
  readonly source?: SourceRole<S>;
  readonly destination?: DestinationRole<D>;
}

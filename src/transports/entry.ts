/**
 * The shape of one line of the transport table (./table.ts): how a transport is written on the
 * command line, how its argument parses, and how it opens as a source or a sink.
 *
 * An entry is loaded on every run of ferry (the CLI's help and argument checks read it), so its
 * module imports only errors, pure `types/` modules and this file; its `open` functions
 * `import()` the transport's code when a command uses it (docs/architecture.md, "CLI start-up").
 */

import type { Sink, Source } from "../types/transport.js";
import type { RegistrySession } from "./registry/session.js";
import type { PathFunctions } from "./spec-path.js";
import type { WimDownloadLimits, WimNetwork } from "./wim/download.js";

/** A parsed argument: which transport, and what it names there. */
export interface Spec {
  transport: string;
}

/** What opening a source may need besides its argument (each source reads what it uses). */
export interface SourceContext {
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
  open(spec: S, context: SourceContext): Promise<Source>;
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
  /** It takes container images only, not Windows base OS images. */
  readonly containerImagesOnly: boolean;
  /** The name an image gets there, when it gets one (docker's `repo:tag`). */
  nameOf(image: string): string | undefined;
  /** The heading of that name in tables. */
  readonly nameHeading: string;
  /** What the user runs next with the result, if anything. */
  nextStep?(spec: D): string;
  openSink(spec: D): Promise<Sink>;
}

export interface DestinationRole<D extends Spec> {
  /** How it is written after `--to`: `store[:DIR]`. */
  readonly forms: readonly string[];
  readonly help: string;
  /** What follows `KIND:` (undefined: nothing did). */
  parse(rest: string | undefined, text: string): D;
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

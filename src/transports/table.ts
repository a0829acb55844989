/**
 * The table of transports: every medium ferry reads images from or writes them to, one line
 * each. The CLI's argument parsing and help (save's sources, `--to` of load, pull, push and
 * export), the command reference (scripts/gen-command-docs.mjs) and shell completion read it;
 * nothing else lists transports. Adding a transport is one folder under src/transports/ with an
 * `entry.ts` (./entry.ts says what it holds) and one line here.
 *
 * This module and the entries load on every run of ferry: they hold no transport code, only
 * `import()`s of it (docs/architecture.md, "CLI start-up").
 */

import nodePath from "node:path";
import { UsageError } from "../errors.js";
import { parseReference } from "../types/reference.js";
import { escapeControls } from "../types/terminal-text.js";
import type { Source } from "../types/transport.js";
import { containerdTransport } from "./containerd/entry.js";
import { dockerArchiveTransport } from "./docker-archive/entry.js";
import { dockerTransport } from "./docker-daemon/entry.js";
import type {
  DestinationRole,
  SourceContext,
  SourceRole,
  Spec,
  TransportEntry,
  TransportOption,
  TransportSettings,
} from "./entry.js";
import { ociTransport, storeTransport } from "./layout/entry.js";
import { ociArchiveTransport } from "./oci-archive/entry.js";
import { pathArgumentError } from "./path-argument.js";
import { registryTransport } from "./registry/entry.js";
import { type PathFunctions, startsWithDrive } from "./spec-path.js";
import { wimTransport } from "./wim/entry.js";

/**
 * In the order help lists them and unprefixed arguments are tried (a `.wim` path before an
 * image reference, which accepts almost any word).
 */
export const TRANSPORTS = [
  ociTransport,
  storeTransport,
  ociArchiveTransport,
  dockerArchiveTransport,
  dockerTransport,
  containerdTransport,
  wimTransport,
  registryTransport,
] as const;

type Entry = (typeof TRANSPORTS)[number];
type SourceSpecOf<E> = E extends TransportEntry<infer S, Spec> ? S : never;
type DestinationSpecOf<E> = E extends TransportEntry<Spec, infer D> ? D : never;

/** A parsed source argument (`oci:DIR[:REF]`, a `.wim` path, an image reference...). */
export type SourceSpec = SourceSpecOf<Entry>;
/** A parsed destination (`--to store:DIR`, `--to registry:HOST/PREFIX`...). */
export type DestinationSpec = DestinationSpecOf<Entry>;
/** The name of a transport that can be a destination. */
export type DestinationKind = DestinationSpec["transport"];

const ENTRIES: readonly TransportEntry[] = TRANSPORTS as readonly TransportEntry[];

function entryNamed(name: string): TransportEntry | undefined {
  return ENTRIES.find((entry) => entry.name === name);
}

/** `a`, `a or b`, `a, b or c`. */
export function listForms(forms: readonly string[]): string {
  if (forms.length <= 1) return forms.join("");
  return `${forms.slice(0, -1).join(", ")} or ${forms[forms.length - 1]}`;
}

// ---------------------------------------------------------------------------------------------
// Transport options (`--docker-host`, `--namespace`)

/** Options of these roles, each once (two roles of one transport may share one). */
function distinctOptions(
  roles: ReadonlyArray<{ options?: readonly TransportOption[] } | undefined>,
) {
  const options = new Map<string, TransportOption>();
  for (const role of roles)
    for (const option of role?.options ?? []) options.set(option.key, option);
  return [...options.values()];
}

/** The options the sources own: what `save` adds to its flags. */
export function sourceOptions(): TransportOption[] {
  return distinctOptions(ENTRIES.map((entry) => entry.source));
}

/** The options of these destinations (default: all): what `load` and `export` add. */
export function destinationOptions(kinds?: readonly string[]): TransportOption[] {
  return distinctOptions(
    ENTRIES.filter((entry) => !kinds || kinds.includes(entry.name)).map(
      (entry) => entry.destination,
    ),
  );
}

/** The values a command's parsed flags hold for these options. */
export function optionValues(
  flags: object,
  options: readonly TransportOption[],
): TransportSettings {
  const values: Record<string, string | undefined> = {};
  for (const option of options) {
    const value = (flags as Record<string, unknown>)[option.key];
    if (typeof value === "string") values[option.key] = value;
  }
  return values;
}

/** `--docker-host`, from `--docker-host <url>`. */
function flagName(option: TransportOption): string {
  return option.flags.split(/[ ,]/)[0] ?? option.flags;
}

/**
 * Refuse an option given to a command none of whose transports (`used`) takes it: it would
 * be silently ignored. `offered` are the options the command has.
 */
function refuseUnusedOptions(
  settings: TransportSettings,
  offered: readonly TransportOption[],
  used: ReadonlyArray<{ options?: readonly TransportOption[] } | undefined>,
  users: (option: TransportOption) => string,
): void {
  const taken = new Set(used.flatMap((role) => role?.options ?? []).map((option) => option.key));
  for (const option of offered) {
    if (settings[option.key] === undefined || taken.has(option.key)) continue;
    throw new UsageError(`${flagName(option)} applies to ${users(option)} only`, {
      hint: `leave out ${flagName(option)}, or use it with ${users(option)}`,
    });
  }
}

/** Refuse a source option (`--docker-host`) when no source of the command takes it. */
export function checkSourceOptions(
  specs: readonly SourceSpec[],
  settings: TransportSettings,
): void {
  refuseUnusedOptions(
    settings,
    sourceOptions(),
    specs.map((spec) => sourceRole(spec)),
    (option) =>
      listForms(
        ENTRIES.filter((entry) => entry.source?.options?.some((o) => o.key === option.key)).flatMap(
          (entry) => entry.source?.prefixes.map((prefix) => `${prefix} sources`) ?? [],
        ),
      ),
  );
}

// ---------------------------------------------------------------------------------------------
// Sources

/** Every way of writing a source, in table order (for help, docs and completion). */
export function sourceForms(): string[] {
  return ENTRIES.flatMap((entry) => entry.source?.forms ?? []);
}

/** Every source prefix (`oci:`, `docker://`...), for completion. */
export function sourcePrefixes(): string[] {
  return ENTRIES.flatMap((entry) => entry.source?.prefixes ?? []);
}

/** The role of a parsed source: its platform default, what it needs opened first... */
export function sourceRole(spec: SourceSpec): SourceRole<SourceSpec> {
  const role = entryNamed(spec.transport)?.source;
  if (!role) throw new Error(`no source transport ${spec.transport}`);
  return role as SourceRole<SourceSpec>;
}

/** Whether `text` parses as an image reference (a path never should be taken for one). */
function isValidReference(text: string): boolean {
  try {
    parseReference(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parse a source argument: the transport whose prefix starts it (the longest), else the first
 * transport that recognizes it (a `.wim` path or URL, a bare image reference).
 */
export function parseSource(text: string): SourceSpec {
  let best: { role: SourceRole<Spec>; prefix: string } | undefined;
  for (const entry of ENTRIES) {
    for (const prefix of entry.source?.prefixes ?? []) {
      if (text.startsWith(prefix) && prefix.length > (best?.prefix.length ?? 0)) {
        best = { role: entry.source as SourceRole<Spec>, prefix };
      }
    }
  }
  if (best) return best.role.parse(text.slice(best.prefix.length), text) as SourceSpec;
  for (const entry of ENTRIES) {
    if (entry === (registryTransport as TransportEntry)) {
      // `./dir`, `../x.tar`, `/srv/app`: a path, not a registry reference (`invalid registry ".."`).
      const pathError = pathArgumentError(text, isValidReference(text));
      if (pathError) throw pathError;
    }
    const spec = entry.source?.recognize?.(text);
    if (spec) return spec as SourceSpec;
  }
  const colon = text.indexOf(":");
  const prefix = colon > 0 ? text.slice(0, colon) : "";
  throw new UsageError(
    `${escapeControls(text)}: unknown source transport ${escapeControls(JSON.stringify(prefix))}`,
    {
      hint: startsWithDrive(text)
        ? `a Windows path: name its transport in front, e.g. oci:${escapeControls(text)}`
        : `use ${listForms(sourceForms())}`,
    },
  );
}

/**
 * A source's relative path made absolute against a folder (an image list's own), with `paths`
 * (this platform's by default; tests pass `path.win32` or `path.posix`). URLs and registry
 * references stay as they are.
 */
export function resolveSourcePaths(
  spec: SourceSpec,
  baseDir: string,
  paths: PathFunctions = nodePath,
): SourceSpec {
  const role = sourceRole(spec);
  return role.resolve ? role.resolve(spec, baseDir, paths) : spec;
}

/** Open a parsed source (its transport's code is loaded now, not at start-up). */
export function openSource(spec: SourceSpec, context: SourceContext = {}): Promise<Source> {
  return sourceRole(spec).open(spec, context);
}

// ---------------------------------------------------------------------------------------------
// Destinations

/** The destinations, in table order: their names and how each is written after `--to`. */
export function destinationForms(kinds?: readonly string[]): string[] {
  return ENTRIES.filter(
    (entry) => entry.destination && (!kinds || kinds.includes(entry.name)),
  ).flatMap((entry) => entry.destination?.forms ?? []);
}

/** The destinations that take a plain copy (`docker-archive`...): what `export` writes to. */
export function copyDestinationKinds(): string[] {
  return ENTRIES.filter((entry) => entry.destination?.copy).map((entry) => entry.name);
}

/** The role of a parsed destination (its copy, when it takes a plain copy). */
export function destinationRole<D extends DestinationSpec>(spec: D): DestinationRole<D> {
  const role = entryNamed(spec.transport)?.destination;
  if (!role) throw new Error(`no destination transport ${spec.transport}`);
  return role as DestinationRole<D>;
}

/**
 * Parse a destination, `KIND[:WHERE]` (`store`, `store:DIR`, `registry:HOST/PREFIX`,
 * `docker-archive:FILE`). `kinds`: the destinations the command takes (default: all); `label`:
 * how the user wrote it, for messages (default `--to VALUE`); `settings`: the values of
 * destination options (`--namespace`). An unknown kind, or one the command does not take, is a
 * usage error listing those it does; so is an option this destination does not take.
 */
export function parseDestination(
  value: string,
  options: { kinds?: readonly string[]; label?: string; settings?: TransportSettings } = {},
): DestinationSpec {
  const label = options.label ?? `--to ${value}`;
  const colon = value.indexOf(":");
  const kind = colon < 0 ? value : value.slice(0, colon);
  const rest = colon < 0 ? undefined : value.slice(colon + 1);
  const role = entryNamed(kind)?.destination;
  const taken = !options.kinds || options.kinds.includes(kind);
  if (!role || !taken) {
    const known = destinationForms(options.kinds);
    throw new UsageError(
      role
        ? `${escapeControls(label)}: this command does not write to ${kind}`
        : `${escapeControls(label)}: unknown destination ${escapeControls(JSON.stringify(kind))}`,
      { hint: `use --to ${listForms(known)}` },
    );
  }
  const settings = options.settings ?? {};
  refuseUnusedOptions(settings, destinationOptions(options.kinds), [role], (option) =>
    listForms(
      ENTRIES.filter((entry) => entry.destination?.options?.some((o) => o.key === option.key)).map(
        (entry) => `--to ${entry.name}`,
      ),
    ),
  );
  return role.parse(rest, label, settings) as DestinationSpec;
}

import { FerryError } from "../errors.js";
import { boundedList } from "./bounded-list.js";
import type { Descriptor } from "./descriptor.js";

/** An OCI platform. */
export interface Platform {
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
  features?: string[];
}

/** A platform the user asked for: `linux/arm64/v8`, `windows/amd64:10.0.20348`. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
  /** A dot-separated prefix of the wanted `os.version` (Windows builds). */
  osVersion?: string;
}

/** Which platforms of a multi-platform image to take. */
export type PlatformSelector = "all" | PlatformSpec[];

/** The platforms picked from an index, and the wanted specs nothing matched. */
export interface PlatformChoice {
  selected: Descriptor[];
  missing: PlatformSpec[];
}

const PLATFORM_SYNTAX = "os/arch[/variant][:os.version]";
const PLATFORM_PATTERN =
  /^([a-z0-9_-]+)\/([a-z0-9_-]+)(?:\/([a-z0-9_.-]+))?(?::([0-9]+(?:\.[0-9]+)*))?$/;

const ARCHITECTURE_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: "amd64" },
  "x86-64": { architecture: "amd64" },
  aarch64: { architecture: "arm64" },
  armhf: { architecture: "arm", variant: "v7" },
  armel: { architecture: "arm", variant: "v6" },
  i386: { architecture: "386" },
  i686: { architecture: "386" },
  x86: { architecture: "386" },
};

/** The variant an image means when it names none (OCI image spec, containerd). */
const DEFAULT_VARIANTS: Record<string, string> = { arm64: "v8", arm: "v7" };

const NODE_OS_NAMES: Record<string, string> = { win32: "windows" };

const NODE_ARCHITECTURES: Record<string, { architecture: string; variant?: string }> = {
  x64: { architecture: "amd64" },
  arm64: { architecture: "arm64" },
  arm: { architecture: "arm", variant: "v7" },
  ia32: { architecture: "386" },
  ppc64: { architecture: "ppc64le" },
};

/**
 * Parse `os/arch[/variant][:os.version]`: `linux/amd64`, `linux/arm/v7`,
 * `windows/amd64:10.0.20348`. Architecture aliases are normalized (`x86_64` -> `amd64`,
 * `aarch64` -> `arm64`, `armhf` -> `arm/v7`, `armel` -> `arm/v6`, `i386` -> `386`) and a bare
 * `arm` means `arm/v7`. Throws FerryError EUSAGE when the text is malformed.
 */
export function parsePlatform(text: string): PlatformSpec {
  const match = PLATFORM_PATTERN.exec(text.toLowerCase());
  if (!match) {
    throw new FerryError(
      "EUSAGE",
      `invalid platform "${text}": expected ${PLATFORM_SYNTAX}, e.g. linux/amd64, linux/arm64/v8 or windows/amd64:10.0.20348`,
      { details: { platform: text } },
    );
  }
  const [, os = "", architectureText = "", variantText, osVersion] = match;
  if (os === "unknown" && architectureText === "unknown") {
    throw new FerryError(
      "EUSAGE",
      `"${text}" is not a platform: buildx writes unknown/unknown on its attestation manifests, which ferry keeps with the platforms they describe`,
      {
        hint: "name the image platforms you want (e.g. --platform linux/amd64); their attestations come along (--no-attached leaves them out)",
        details: { platform: text },
      },
    );
  }
  const { architecture, variant } = normalizeArchitecture(architectureText, variantText);
  const spec: PlatformSpec = { os, architecture };
  const effectiveVariant = variant ?? (architecture === "arm" ? DEFAULT_VARIANTS.arm : undefined);
  if (effectiveVariant !== undefined) spec.variant = effectiveVariant;
  if (osVersion !== undefined) spec.osVersion = osVersion;
  return spec;
}

/** `linux/arm64/v8`, `windows/amd64:10.0.20348.2113`. */
export function formatPlatform(p: Platform | PlatformSpec): string {
  const osVersion = "osVersion" in p ? p.osVersion : (p as Platform)["os.version"];
  const variantPart = p.variant ? `/${p.variant}` : "";
  const osVersionPart = osVersion ? `:${osVersion}` : "";
  return `${p.os}/${p.architecture}${variantPart}${osVersionPart}`;
}

/** The platform of the running Node process, from `process.platform` and `process.arch`. */
export function platformFromNode(nodePlatform: string, nodeArch: string): PlatformSpec {
  const os = NODE_OS_NAMES[nodePlatform] ?? nodePlatform;
  const { architecture, variant } = NODE_ARCHITECTURES[nodeArch] ?? { architecture: nodeArch };
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/**
 * Whether an image built for `candidate` satisfies `wanted`: same os and architecture
 * (after alias normalization), same variant when `wanted` names one (an arm64 image without a
 * variant is v8, an arm one v7), and `wanted.osVersion` a component-wise prefix of the
 * candidate's `os.version` (`10.0.20348` matches `10.0.20348.2113`, not `10.0.203480.1`).
 */
export function matchesPlatform(candidate: Platform, wanted: PlatformSpec): boolean {
  const have = normalizeArchitecture(candidate.architecture, candidate.variant);
  const want = normalizeArchitecture(wanted.architecture, wanted.variant);
  if (candidate.os.toLowerCase() !== wanted.os.toLowerCase()) return false;
  if (have.architecture !== want.architecture) return false;
  if (want.variant !== undefined) {
    const haveVariant = have.variant ?? DEFAULT_VARIANTS[have.architecture];
    if (haveVariant !== want.variant) return false;
  }
  if (wanted.osVersion !== undefined && wanted.osVersion !== "") {
    const osVersion = candidate["os.version"];
    if (osVersion === undefined || !isVersionPrefix(wanted.osVersion, osVersion)) return false;
  }
  return true;
}

/**
 * Compare two dot-separated versions numerically, component by component
 * (`10.0.9` < `10.0.10`); when one is a prefix of the other, the longer is greater.
 * Returns a negative number, zero or a positive number, like a sort comparator.
 */
export function compareOsVersions(a: string, b: string): number {
  const left = versionComponents(a);
  const right = versionComponents(b);
  const shared = Math.min(left.length, right.length);
  for (let index = 0; index < shared; index++) {
    const order = compareVersionComponent(left[index] ?? "", right[index] ?? "");
    if (order !== 0) return order;
  }
  return Math.sign(left.length - right.length);
}

/**
 * Pick the manifests of an index that the selector asks for. `"all"` keeps every manifest.
 * Otherwise each spec takes one manifest: among its matches, the one with the newest
 * `os.version` (the first match when none has one). Manifests without a platform never match
 * a spec. The result keeps index order without duplicates; specs nothing matched are `missing`.
 */
export function selectPlatforms(
  manifests: Descriptor[],
  selector: PlatformSelector,
): PlatformChoice {
  if (selector === "all") return { selected: [...manifests], missing: [] };
  const chosen = new Set<number>();
  const missing: PlatformSpec[] = [];
  for (const spec of selector) {
    const index = bestMatchIndex(manifests, spec);
    if (index === undefined) {
      if (!missing.some((seen) => formatPlatform(seen) === formatPlatform(spec))) {
        missing.push(spec);
      }
    } else {
      chosen.add(index);
    }
  }
  const selected = manifests.filter((_, index) => chosen.has(index));
  return { selected, missing };
}

/**
 * The platforms an index offers, for error messages:
 * `linux/amd64, linux/arm64/v8, windows/amd64:10.0.20348.2113`. Entries without a platform
 * and attestation entries (`unknown/unknown`) are left out; `none` when nothing is left. A long
 * list is cut after ten (`... and 17,995 more`).
 */
export function describeAvailablePlatforms(manifests: Descriptor[]): string {
  const names = new Set<string>();
  for (const manifest of manifests) {
    const platform = manifest.platform;
    if (platform === undefined || isUnknownPlatform(platform)) continue;
    names.add(formatPlatform(platform));
  }
  return names.size === 0 ? "none" : boundedList([...names]);
}

function normalizeArchitecture(
  architecture: string,
  variant: string | undefined,
): { architecture: string; variant?: string } {
  const lowerArchitecture = architecture.toLowerCase();
  const alias = ARCHITECTURE_ALIASES[lowerArchitecture];
  const normalizedArchitecture = alias?.architecture ?? lowerArchitecture;
  const normalizedVariant = normalizeVariant(variant) ?? alias?.variant;
  return normalizedVariant === undefined
    ? { architecture: normalizedArchitecture }
    : { architecture: normalizedArchitecture, variant: normalizedVariant };
}

/** `7` -> `v7`, `V8` -> `v8`; an empty variant is no variant. */
function normalizeVariant(variant: string | undefined): string | undefined {
  if (variant === undefined || variant === "") return undefined;
  const lower = variant.toLowerCase();
  return /^[0-9]/.test(lower) ? `v${lower}` : lower;
}

function isVersionPrefix(prefix: string, version: string): boolean {
  const wanted = versionComponents(prefix);
  const have = versionComponents(version);
  if (wanted.length > have.length) return false;
  return wanted.every(
    (component, index) => compareVersionComponent(component, have[index] ?? "") === 0,
  );
}

function versionComponents(version: string): string[] {
  return version === "" ? [] : version.split(".");
}

function compareVersionComponent(a: string, b: string): number {
  const isNumeric = /^[0-9]+$/;
  if (isNumeric.test(a) && isNumeric.test(b)) return Math.sign(Number(a) - Number(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The index of the manifest a spec takes: the newest os.version among its matches. */
function bestMatchIndex(manifests: Descriptor[], spec: PlatformSpec): number | undefined {
  let best: number | undefined;
  let bestVersion: string | undefined;
  manifests.forEach((manifest, index) => {
    const platform = manifest.platform;
    if (platform === undefined || !matchesPlatform(platform, spec)) return;
    const version = platform["os.version"];
    if (best === undefined || isNewer(version, bestVersion)) {
      best = index;
      bestVersion = version;
    }
  });
  return best;
}

/** Whether `version` is strictly newer than `than`; a missing version is the oldest. */
function isNewer(version: string | undefined, than: string | undefined): boolean {
  if (version === undefined) return false;
  if (than === undefined) return true;
  return compareOsVersions(version, than) > 0;
}

/** `unknown/unknown`: what buildx gives its attestation manifests; never a platform. */
export function isUnknownPlatform(platform: Pick<Platform, "os" | "architecture">): boolean {
  return platform.os === "unknown" && platform.architecture === "unknown";
}

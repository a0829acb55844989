import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { constants, deflateRawSync } from "node:zlib";
import type { ErrorCode } from "../../../src/errors.js";
import { Rng } from "../seeded.js";
import {
  blobOf,
  type ForgedImage,
  type ForgeOptions,
  forgeBundle,
  forgeImage,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
} from "./forge-bundle.js";
import { buildZip, type RawEntry, type RawZipOptions } from "./raw-zip.js";

/**
 * The hostile-input corpus, built at test time: malicious zips (paths, links, duplicates, size
 * lies, bombs, entry counts), malformed manifests and ferry.json inside otherwise
 * self-consistent bundles, and malformed WIM headers. Each case says what ferry must answer:
 * the error code and a fragment of the message.
 */

export interface Expectation {
  /** Acceptable FerryError codes. */
  codes: ErrorCode[];
  /** A fragment the message (or, for verify, one of the problems) must contain. */
  message: RegExp;
}

export interface HostileCase {
  name: string;
  category: string;
  kind: "bundle" | "wim";
  /** Write the input under `dir`; return the path to hand to ferry. */
  build(dir: string): Promise<string> | string;
  expect: Expectation;
  /** For verify when its report words it differently from load's error. */
  verifyExpect?: Expectation;
  /** The refusal must cost less than this many ms of CPU time (bombs, huge counts). */
  within?: number;
  /** Paths (relative to the case's folder, or absolute) that must never appear. */
  mustNotExist?: string[];
  /** Verify only under FERRY_STRESS=full (slow cases: load covers the same indexing). */
  fullOnlyVerify?: boolean;
}

/** A unique tag for names that would land outside the bundle if anything extracted them. */
export const EVIL = `ferry-evil-${randomBytes(4).toString("hex")}`;

const rng = new Rng(0xc0ffee);
const LAYER_A = rng.bytes(4096);
const LAYER_B = rng.bytes(3000);

export function goodImage(
  options: Parameters<typeof forgeImage>[2] = {},
  ref = "forged.example/app:1",
): ForgedImage {
  return forgeImage(ref, [LAYER_A, LAYER_B], options);
}

/** The entries of a good forged bundle, for edits. */
export function goodEntries(options: ForgeOptions = {}, image = goodImage()): RawEntry[] {
  return forgeBundle([image], options).entries;
}

function write(dir: string, name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

function zipCase(
  name: string,
  category: string,
  entries: () => RawEntry[],
  expect: Expectation,
  extra: Partial<HostileCase> & { zip?: RawZipOptions } = {},
): HostileCase {
  const { zip, ...rest } = extra;
  return {
    name,
    category,
    kind: "bundle",
    build: (dir) => write(dir, `${name}.zip`, buildZip(entries(), zip)),
    expect,
    ...rest,
  };
}

const bad = (codes: ErrorCode[], message: RegExp): Expectation => ({ codes, message });
const BADBUNDLE: ErrorCode[] = ["EBADBUNDLE"];

function blobEntryIndex(entries: RawEntry[], mediaType?: string, forged = goodImage()): number {
  const wanted =
    mediaType === undefined
      ? undefined
      : [forged.root, ...forged.contents].find((b) => b.mediaType === mediaType)?.digest;
  const index = entries.findIndex((e) =>
    wanted ? e.name === `blobs/sha256/${wanted.slice(7)}` : String(e.name).startsWith("blobs/"),
  );
  if (index < 0) throw new Error("no blob entry");
  return index;
}

function layerEntry(entries: RawEntry[]): number {
  const digest = blobOf(LAYER_A, OCI_LAYER).digest;
  return entries.findIndex((e) => e.name === `blobs/sha256/${digest.slice(7)}`);
}

/** Raw deflate that inflates to `bytes` zeros: 1 MiB full-flushed chunks repeated, then a final block. */
export function deflateBomb(bytes: number): Buffer {
  const chunk = deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: constants.Z_FULL_FLUSH });
  const count = Math.ceil(bytes / (1024 * 1024));
  return Buffer.concat([...Array.from({ length: count }, () => chunk), Buffer.from([0x03, 0x00])]);
}

function replaced(entries: RawEntry[], index: number, entry: Partial<RawEntry>): RawEntry[] {
  const copy = [...entries];
  copy[index] = { ...(copy[index] as RawEntry), ...entry };
  return copy;
}

/** Good entries with the layer's entry changed by `change` (given that entry, where it is, and all). */
function layerChanged(
  change: (layer: RawEntry, at: number, entries: RawEntry[]) => Partial<RawEntry>,
): RawEntry[] {
  const entries = goodEntries();
  const at = layerEntry(entries);
  return replaced(entries, at, change(entries[at] as RawEntry, at, entries));
}

/** All four sizes of an entry (central and local, stored and compressed) claiming `length`. */
const sizesClaiming = (length: number): Partial<RawEntry> => ({
  size: length,
  compressedSize: length,
  localSize: length,
  localCompressedSize: length,
});

/**
 * Good entries with the one `pick` chooses replaced by DEFLATE `data` that claims `size`
 * bytes (CRC 0: a reader must refuse on size before it would check the CRC).
 */
function deflatedInPlace(
  pick: (entries: RawEntry[]) => number,
  data: (entry: RawEntry) => Buffer,
  size: (entry: RawEntry) => number,
): RawEntry[] {
  const entries = goodEntries();
  const at = pick(entries);
  const entry = entries[at] as RawEntry;
  const compressed = data(entry);
  return replaced(entries, at, {
    method: 8,
    data: compressed,
    size: size(entry),
    compressedSize: compressed.length,
    crc: 0,
  });
}

function named(entries: RawEntry[], name: string): number {
  const index = entries.findIndex((e) => e.name === name);
  if (index < 0) throw new Error(`no entry ${name}`);
  return index;
}

/** A bundle whose one image has an edited manifest (the bundle is consistent about it). */
function manifestCase(
  name: string,
  options: Parameters<typeof forgeImage>[2],
  expect: Expectation,
): HostileCase {
  return zipCase(name, "malformed manifest", () => goodEntries({}, goodImage(options)), expect);
}

function ferryCase(
  name: string,
  options: ForgeOptions,
  expect: Expectation,
  extra: Partial<HostileCase> = {},
): HostileCase {
  return zipCase(name, "malformed ferry.json", () => goodEntries(options), expect, extra);
}

const GIB = 1024 * 1024 * 1024;

export function hostileZipCases(full: boolean): HostileCase[] {
  const bombSize = (full ? 64 : 16) * GIB;
  const cases: HostileCase[] = [
    // --- paths -------------------------------------------------------------------------------
    zipCase(
      "traversal",
      "paths",
      () => [...goodEntries(), { name: `../${EVIL}`, data: Buffer.from("evil") }],
      bad(BADBUNDLE, /parent-directory \(\.\.\) path/),
      { mustNotExist: [`../${EVIL}`] },
    ),
    zipCase(
      "traversal-deep",
      "paths",
      () => [
        ...goodEntries(),
        { name: `blobs/sha256/../../../../${EVIL}`, data: Buffer.from("evil") },
      ],
      bad(BADBUNDLE, /is not allowed: parent-directory/),
    ),
    zipCase(
      "traversal-as-blob",
      "paths",
      () =>
        layerChanged((entry) => ({ name: `blobs/sha256/../../${String(entry.name).slice(13)}` })),
      bad(BADBUNDLE, /is not allowed: parent-directory/),
    ),
    zipCase(
      "absolute",
      "paths",
      () => [...goodEntries(), { name: `/tmp/${EVIL}`, data: Buffer.from("evil") }],
      bad(BADBUNDLE, /absolute path/),
      { mustNotExist: [`/tmp/${EVIL}`] },
    ),
    zipCase(
      "unc-path",
      "paths",
      () => [...goodEntries(), { name: `\\\\host\\share\\${EVIL}`, data: Buffer.from("evil") }],
      bad(BADBUNDLE, /absolute path/),
    ),
    zipCase(
      "drive-backslash",
      "paths",
      () => [...goodEntries(), { name: `C:\\${EVIL}`, data: Buffer.from("evil") }],
      bad(BADBUNDLE, /drive-letter path/),
    ),
    zipCase(
      "drive-slash",
      "paths",
      () => [...goodEntries(), { name: `D:/${EVIL}`, data: Buffer.from("evil") }],
      bad(BADBUNDLE, /drive-letter path/),
    ),
    zipCase(
      "nul-in-name",
      "paths",
      () => [...goodEntries(), { name: "index.json\0.evil", data: Buffer.from("evil") }],
      bad(BADBUNDLE, /NUL byte/),
    ),
    zipCase(
      "not-utf8-name",
      "paths",
      () => [
        ...goodEntries(),
        { name: Buffer.from([0xff, 0xfe, 0x2e, 0x2e]), data: Buffer.from("x") },
      ],
      bad(BADBUNDLE, /not valid UTF-8/),
    ),
    zipCase(
      "empty-name",
      "paths",
      () => [...goodEntries(), { name: "", data: Buffer.from("evil") }],
      bad(BADBUNDLE, /empty name|not allowed/),
    ),
    zipCase(
      "dot-slash-name",
      "paths",
      () => {
        const entries = goodEntries();
        return replaced(entries, named(entries, "index.json"), { name: "./index.json" });
      },
      bad(BADBUNDLE, /"\.\/index\.json" is not allowed/),
    ),
    zipCase(
      "double-slash-blob",
      "paths",
      () => layerChanged((entry) => ({ name: String(entry.name).replace("blobs/", "blobs//") })),
      bad(BADBUNDLE, /is not allowed/),
    ),
    // --- links -------------------------------------------------------------------------------
    zipCase(
      "symlink-as-blob",
      "links",
      () =>
        layerChanged(() => ({
          data: Buffer.from("/etc/passwd"),
          externalAttributes: (0o120777 << 16) >>> 0,
        })),
      bad(BADBUNDLE, /is a symbolic link/),
    ),
    zipCase(
      "symlink-blobs-dir",
      "links",
      () => [
        { name: "blobs/", data: Buffer.from("/"), externalAttributes: (0o120777 << 16) >>> 0 },
        ...goodEntries(),
      ],
      bad(BADBUNDLE, /is a symbolic link|directory with data/),
    ),
    zipCase(
      "symlink-outside",
      "links",
      () => [
        ...goodEntries(),
        {
          name: EVIL,
          data: Buffer.from("../../../.."),
          externalAttributes: (0o120777 << 16) >>> 0,
        },
      ],
      bad(BADBUNDLE, /is a symbolic link|is not allowed/),
    ),
    // --- duplicates --------------------------------------------------------------------------
    zipCase(
      "duplicate-index-json",
      "duplicates",
      () => [...goodEntries(), { name: "index.json", data: Buffer.from('{"evil":true}') }],
      bad(BADBUNDLE, /"index\.json" appears more than once/),
    ),
    zipCase(
      "duplicate-ferry-json-evil-first",
      "duplicates",
      () => {
        const entries = goodEntries();
        return [{ name: "ferry.json", data: Buffer.from('{"schema":"evil"}') }, ...entries];
      },
      bad(BADBUNDLE, /"ferry\.json" appears more than once/),
    ),
    zipCase(
      "duplicate-blob-other-bytes",
      "duplicates",
      () => {
        const entries = goodEntries();
        const layer = entries[layerEntry(entries)] as RawEntry;
        return [...entries, { name: layer.name, data: randomBytes(layer.data.length) }];
      },
      bad(BADBUNDLE, /appears more than once/),
    ),
    // --- size lies ---------------------------------------------------------------------------
    zipCase(
      "stored-sizes-differ",
      "size lies",
      () => layerChanged((entry) => ({ size: entry.data.length * 100 })),
      bad(BADBUNDLE, /is stored but declares|size mismatch for stored file/),
    ),
    zipCase(
      "central-sizes-short",
      "size lies",
      () => layerChanged((entry) => sizesClaiming(entry.data.length - 10)),
      bad(["EBADBUNDLE", "ESIZE"], /bytes in the zip, ferry\.json says/),
    ),
    zipCase(
      "central-sizes-long",
      "size lies",
      () => layerChanged((entry) => sizesClaiming(entry.data.length + 5000)),
      bad(["EBADBUNDLE", "ESIZE"], /overlaps|bytes in the zip, ferry\.json says|runs past/),
    ),
    zipCase(
      "local-sizes-disagree",
      "size lies",
      () => layerChanged(() => ({ localSize: 1, localCompressedSize: 1 })),
      bad(BADBUNDLE, /local header and central directory disagree/),
    ),
    ferryCase(
      "ferry-json-claims-1tib-layer",
      {
        editFerry: (doc) => {
          const blobs = doc.blobs as Array<{ digest: string; size: number }>;
          const layer = blobs.find((b) => b.digest === blobOf(LAYER_A, OCI_LAYER).digest);
          if (layer) layer.size = 1024 * GIB;
        },
      },
      bad(["EBADBUNDLE", "ESIZE"], /bytes in the zip, ferry\.json says 1099511627776/),
    ),
    manifestCase(
      "manifest-descriptor-size-lie",
      {
        editManifest: (doc) => {
          const layers = doc.layers as Array<{ size: number }>;
          (layers[0] as { size: number }).size -= 1;
        },
      },
      bad(["ESIZE", "EINTEGRITY", "EBADBUNDLE", "EBADIMAGE"], /size|ferry\.json/),
    ),
    zipCase(
      "deflate-short",
      "size lies",
      () =>
        deflatedInPlace(
          layerEntry,
          (entry) => deflateRawSync(entry.data.subarray(0, entry.data.length - 100)),
          (entry) => entry.data.length,
        ),
      bad(["ESIZE", "EINTEGRITY", "EBADBUNDLE"], /size|inflates|expected/),
    ),
    // --- bombs -------------------------------------------------------------------------------
    zipCase(
      "deflate-bomb-blob",
      "zip bomb",
      () =>
        deflatedInPlace(
          layerEntry,
          () => deflateBomb(bombSize),
          (entry) => entry.data.length,
        ),
      bad(["ESIZE", "EINTEGRITY", "EBADBUNDLE"], /size|inflates|expected/),
      { within: 20_000 },
    ),
    zipCase(
      "deflate-bomb-ferry-json",
      "zip bomb",
      () =>
        deflatedInPlace(
          (e) => named(e, "ferry.json"),
          () => deflateBomb(bombSize),
          () => 2000,
        ),
      bad(BADBUNDLE, /inflates past its declared size/),
      { within: 20_000 },
    ),
    zipCase(
      "deflate-bomb-declared-huge",
      "zip bomb",
      () =>
        deflatedInPlace(
          (e) => named(e, "SHA256SUMS"),
          () => deflateBomb(bombSize),
          () => 0xfffffff0,
        ),
      bad(BADBUNDLE, /more than \d+ allowed|inflates past/),
      { within: 20_000 },
    ),
    zipCase(
      "overlapping-entries",
      "zip bomb",
      () =>
        // The layer's declared data covers the next entry's local header and data too.
        layerChanged((entry, at, entries) => {
          const next = entries[at + 1] as RawEntry;
          return sizesClaiming(
            entry.data.length + 30 + Buffer.from(String(next.name)).length + next.data.length,
          );
        }),
      bad(["EBADBUNDLE", "ESIZE"], /overlaps the data of/),
    ),
    zipCase(
      "shared-local-header",
      "zip bomb",
      () => {
        const entries = goodEntries();
        const at = layerEntry(entries);
        const other = blobEntryIndex(entries, OCI_CONFIG);
        return [
          ...entries.filter((_, i) => i !== other),
          { ...(entries[other] as RawEntry), centralOnly: true, pointAt: at },
        ];
      },
      bad(BADBUNDLE, /local header names|overlaps/),
    ),
    zipCase(
      "one-local-header-1000-times",
      "zip bomb",
      () => {
        const entries = goodEntries();
        const at = layerEntry(entries);
        const copies = Array.from({ length: 1000 }, () => ({
          ...(entries[at] as RawEntry),
          centralOnly: true,
          pointAt: at,
        }));
        return [...entries, ...copies];
      },
      bad(BADBUNDLE, /appears more than once/),
    ),
    // --- entry counts ------------------------------------------------------------------------
    zipCase(
      "eocd-claims-2000000-entries",
      "entry count",
      () => goodEntries(),
      bad(BADBUNDLE, /2000000 entries|central directory|not a readable zip/),
      { zip: { claimEntries: 2_000_000 }, within: 10_000 },
    ),
    zipCase(
      "eocd-claims-65000-entries",
      "entry count",
      () => goodEntries(),
      bad(BADBUNDLE, /central directory|not a readable zip|65000/),
      { zip: { claimEntries: 65_000 }, within: 10_000 },
    ),
    zipCase(
      "70000-tiny-entries",
      "entry count",
      () => [
        ...goodEntries(),
        ...Array.from({ length: 70_000 }, (_, i) => ({
          name: `junk/${String(i).padStart(5, "0")}`,
          data: Buffer.from([i & 0xff]),
        })),
      ],
      bad(BADBUNDLE, /"junk\/00000" is not allowed[\s\S]*and 6\d{4} more/),
      {
        within: 60_000,
        fullOnlyVerify: true,
        verifyExpect: bad(BADBUNDLE, /"junk\/00000" is not allowed/),
      },
    ),
    // --- malformed manifests -----------------------------------------------------------------
    manifestCase(
      "manifest-not-json",
      { manifestBytes: Buffer.from("this is not a manifest {") },
      bad(["EBADIMAGE", "EBADBUNDLE"], /not valid JSON|JSON/),
    ),
    manifestCase(
      "manifest-schema-1",
      {
        manifestBytes: Buffer.from(
          JSON.stringify({
            schemaVersion: 1,
            name: "forged/app",
            tag: "1",
            architecture: "amd64",
            fsLayers: [{ blobSum: blobOf(LAYER_A, OCI_LAYER).digest }],
            history: [{ v1Compatibility: "{}" }],
          }),
        ),
        manifestMediaType: "application/vnd.docker.distribution.manifest.v1+prettyjws",
      },
      bad(
        ["EBADIMAGE", "EUNSUPPORTED", "EBADBUNDLE"],
        /schema ?(version )?1|schemaVersion|not supported|unsupported/i,
      ),
    ),
    manifestCase(
      "manifest-mediatype-mismatch",
      {
        editManifest: (doc) => {
          doc.mediaType = OCI_INDEX;
        },
      },
      bad(["EBADIMAGE", "EBADBUNDLE"], /mediaType|media type/i),
    ),
    manifestCase(
      "manifest-mediatype-text",
      {
        editManifest: (doc) => {
          doc.mediaType = "text/plain";
        },
        manifestMediaType: "text/plain",
      },
      bad(["EBADIMAGE", "EBADBUNDLE", "EUNSUPPORTED"], /text\/plain|media type|mediaType/i),
    ),
    manifestCase(
      "manifest-negative-size",
      {
        editManifest: (doc) => {
          ((doc.layers as unknown[])[0] as { size: number }).size = -1;
        },
      },
      bad(["EBADIMAGE", "EBADBUNDLE"], /size/i),
    ),
    manifestCase(
      "manifest-bad-digest",
      {
        editManifest: (doc) => {
          ((doc.layers as unknown[])[0] as { digest: string }).digest = "sha256:xyz";
        },
      },
      bad(["EBADIMAGE", "EBADBUNDLE"], /digest/i),
    ),
    manifestCase(
      "manifest-md5-digest",
      {
        editManifest: (doc) => {
          (doc.config as { digest: string }).digest = `md5:${"a".repeat(32)}`;
        },
      },
      bad(["EBADIMAGE", "EBADBUNDLE", "EUNSUPPORTED"], /digest|md5/i),
    ),
    manifestCase(
      "manifest-is-array",
      { manifestBytes: Buffer.from("[1, 2, 3]") },
      bad(["EBADIMAGE", "EBADBUNDLE"], /object|manifest/i),
    ),
    // --- malformed ferry.json ----------------------------------------------------------------
    ferryCase(
      "ferry-json-not-json",
      { ferryBytes: Buffer.from("{ this is not json") },
      bad(BADBUNDLE, /ferry\.json is not valid JSON/),
    ),
    ferryCase(
      "ferry-json-array",
      { ferryBytes: Buffer.from("[]") },
      bad(BADBUNDLE, /ferry\.json is not a JSON object/),
    ),
    ferryCase(
      "ferry-json-deeply-nested",
      { ferryBytes: Buffer.from(`${"[".repeat(200_000)}${"]".repeat(200_000)}`) },
      bad(BADBUNDLE, /ferry\.json is not a JSON object|not valid JSON/),
    ),
    ferryCase(
      "ferry-json-schema-v2",
      {
        editFerry: (doc) => {
          doc.schema = "ferry.bundle/v2";
        },
      },
      bad(BADBUNDLE, /declares schema "ferry\.bundle\/v2"/),
    ),
    ferryCase(
      "ferry-json-no-images",
      { editFerry: (doc) => void delete doc.images },
      bad(BADBUNDLE, /has no images list/),
    ),
    ferryCase(
      "ferry-json-negative-size",
      {
        editFerry: (doc) => {
          ((doc.blobs as unknown[])[0] as { size: number }).size = -5;
        },
      },
      bad(BADBUNDLE, /has an invalid size/),
    ),
    ferryCase(
      "ferry-json-traversal-digest",
      {
        editFerry: (doc) => {
          ((doc.blobs as unknown[])[0] as { digest: string }).digest = "sha256:../../../etc/passwd";
        },
      },
      bad(BADBUNDLE, /has an invalid digest/),
    ),
    ferryCase(
      "ferry-json-integrity-mismatch",
      {
        editFerry: (doc) => {
          ((doc.blobs as unknown[])[0] as { integrity: string }).integrity =
            `sha256-${Buffer.alloc(32).toString("base64")}`;
        },
      },
      bad(BADBUNDLE, /integrity for blob .* does not match its digest/),
    ),
    ferryCase(
      "ferry-json-blob-twice",
      {
        editFerry: (doc) => {
          const blobs = doc.blobs as unknown[];
          blobs.push(blobs[0]);
        },
      },
      bad(BADBUNDLE, /lists blob .* twice/),
    ),
    ferryCase(
      "ferry-json-index-record-lies",
      {
        editFerry: (doc) => {
          (
            (doc.files as Record<string, { size: number }>)["index.json"] as { size: number }
          ).size += 1;
        },
      },
      bad(["EINTEGRITY", "EBADBUNDLE"], /index\.json does not match the size and integrity/),
    ),
    zipCase(
      "ferry-json-path-ref",
      "malformed ferry.json",
      () => goodEntries({}, goodImage({}, `../../../../tmp/${EVIL}`)),
      bad(["EBADBUNDLE", "EBADREF", "EUSAGE"], /reference|ref|name/i),
      { mustNotExist: [`/tmp/${EVIL}`] },
    ),
    zipCase(
      "ferry-json-declared-100mib",
      "malformed ferry.json",
      () =>
        deflatedInPlace(
          (e) => named(e, "ferry.json"),
          () => deflateRawSync(Buffer.alloc(1024)),
          () => 100 * 1024 * 1024,
        ),
      bad(BADBUNDLE, /more than 67108864 allowed/),
    ),
  ];
  return cases;
}

/**
 * Malformed WIMs, each derived from `goodWim` (a real WIM made by wimcapture with its Windows
 * version set) or from random bytes.
 */
export function hostileWimCases(goodWim: () => string): HostileCase[] {
  const derived = (
    name: string,
    edit: (bytes: Buffer) => Buffer,
    expect: Expectation,
  ): HostileCase => ({
    name,
    category: "WIM header",
    kind: "wim",
    build: (dir) => write(dir, `${name}.wim`, edit(Buffer.from(readFileSync(goodWim())))),
    expect,
  });
  const wimBad = (message: RegExp) => bad(["EBADWIM"], message);
  const u16 = (value: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(value);
    return b;
  };
  const u32 = (value: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    return b;
  };
  const set = (bytes: Buffer, offset: number, value: Buffer) => {
    value.copy(bytes, offset);
    return bytes;
  };
  return [
    {
      name: "wim-random-bytes",
      category: "WIM header",
      kind: "wim",
      build: (dir) => write(dir, "wim-random-bytes.wim", new Rng(7).bytes(64 * 1024)),
      expect: wimBad(/not a WIM file/),
    },
    {
      name: "wim-empty-file",
      category: "WIM header",
      kind: "wim",
      build: (dir) => write(dir, "wim-empty-file.wim", Buffer.alloc(0)),
      expect: wimBad(/truncated WIM header|not a WIM/),
    },
    derived("wim-truncated-header", (b) => b.subarray(0, 100), wimBad(/truncated WIM header/)),
    derived(
      "wim-truncated-body",
      (b) => b.subarray(0, 400),
      wimBad(/lies outside the file|truncated/),
    ),
    derived("wim-header-size-0", (b) => set(b, 0x08, u32(0)), wimBad(/header size field is 0/)),
    derived(
      "wim-part-3-of-2",
      (b) => set(set(b, 0x28, u16(3)), 0x2a, u16(2)),
      wimBad(/impossible split-part numbering/),
    ),
    derived(
      "wim-xml-offset-outside",
      (b) => {
        b.writeBigUInt64LE(BigInt(b.length + 4096), 0x48 + 8);
        return b;
      },
      wimBad(/XML data .* lies outside the file/),
    ),
    derived(
      "wim-xml-claims-3gib",
      (b) => {
        const size = Buffer.alloc(7);
        size.writeUIntLE(3 * GIB, 0, 6);
        size.copy(b, 0x48);
        b.writeBigUInt64LE(BigInt(3 * GIB), 0x48 + 16);
        return b;
      },
      wimBad(/lies outside the file|more than/),
    ),
    derived(
      "wim-image-count-lie",
      (b) => set(b, 0x2c, u32(5)),
      wimBad(/header counts 5 image\(s\)/),
    ),
    derived(
      "wim-xml-garbage",
      (b) => {
        const offset = Number(b.readBigUInt64LE(0x48 + 8));
        const size = b.readUIntLE(0x48, 6);
        new Rng(9).bytes(size).copy(b, offset);
        return b;
      },
      wimBad(/XML|UTF-16/),
    ),
    derived(
      "wim-spanned-part-1-of-2",
      (b) => set(set(set(b, 0x10, u32(b.readUInt32LE(0x10) | 0x8)), 0x28, u16(1)), 0x2a, u16(2)),
      wimBad(/split|spanned|part 1 of 2|parts/i),
    ),
    derived(
      "wim-compression-unknown",
      (b) => set(b, 0x10, u32(0x00000002)),
      wimBad(/names no known compression type/),
    ),
  ];
}

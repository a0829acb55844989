/**
 * The corruption and truncation matrix shared by corruption.test.ts and the KNOWN-* files:
 * real bundles written by ferry (unsigned; signed and read with --trust; split volumes), a
 * seeded list of single-byte flips (xor 0xff) and cuts over every region of them, and a runner
 * that applies one case, runs verify and load in-process, and checks the store afterwards.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isFerryError } from "../../src/errors.js";
import { loadBundle } from "../../src/ops/load.js";
import { verifyBundle } from "../../src/ops/verify.js";
import type { TrustedKey } from "../../src/trust/keys.js";
import { jsonPaths } from "../helpers/json-paths.js";
import { Rng } from "../helpers/seeded.js";
import { newSigner, saveLayout, seededBundle, seededLayout } from "../helpers/stress-bundles.js";
import { fingerprint } from "../helpers/tree.js";
import { fieldAt, mapZip, type ZipField, type ZipMap } from "../helpers/zip-regions.js";

export type Variant = "unsigned" | "signed" | "split";

export interface Case {
  /** Stable id: variant, kind, file, offset. */
  id: string;
  variant: Variant;
  kind: "flip" | "truncate";
  /** Table row: a zip structure, a file inside the bundle, or `.parts`. */
  region: string;
  /** Field inside the region (a header field, or `data`). */
  field: string;
  /** The zip entry the byte belongs to, when any. */
  entry?: string;
  /** The file changed (bundle, part or .parts), relative to the variant's folder. */
  file: string;
  /** Byte flipped, or the length the file is cut to. */
  offset: number;
  /** For split volumes: the offset in the joined bundle. */
  joinedOffset?: number;
}

export interface Outcome {
  case: Case;
  verifyCaught: boolean;
  verifyDetail: string;
  loadCaught: boolean;
  loadDetail: string;
  storeUnchanged: boolean;
  /** Paths left in the store's .ferry/tmp, or a lock, after the load. */
  leftovers: string[];
  /** For a load that succeeded: `ferry check`-style re-hash found the store intact. */
  installedIntact?: boolean;
}

export interface VariantFixture {
  variant: Variant;
  dir: string;
  /** What verify and load are given (bundle file or .parts). */
  input: string;
  /** The pristine bytes of every file in `dir`. */
  files: Map<string, Buffer>;
  /** Map of the (joined) zip. */
  map: ZipMap;
  joined: Buffer;
  trust: TrustedKey[];
  partSize?: number;
  partNames?: string[];
}

export interface Fixtures {
  root: string;
  store: string;
  pristineStore: string;
  before: Record<string, string>;
  variants: Record<Variant, VariantFixture>;
}

export const PART_SIZE = 8192;

function readDir(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir).sort()) files.set(name, readFileSync(path.join(dir, name)));
  return files;
}

/** Build the three bundles and a store pre-populated with another image. */
export async function buildFixtures(root: string, seed: number): Promise<Fixtures> {
  const rng = new Rng(seed).fork("fixtures");
  const appLayout = path.join(root, "layout-app");
  seededLayout(
    appLayout,
    { repository: "stress.example/app", images: 2, base: 12 * 1024, own: 6 * 1024 },
    rng.fork("app"),
  );
  const seedBundle = await seededBundle(
    root,
    "seed",
    { images: 1, base: 3000, own: 1000 },
    rng.fork("seed"),
  );
  const store = path.join(root, "store");
  await loadBundle(seedBundle, { storeDir: store });
  const pristineStore = path.join(root, "store-pristine");
  cpSync(store, pristineStore, { recursive: true });

  const signer = newSigner();
  const variants = {} as Record<Variant, VariantFixture>;
  for (const variant of ["unsigned", "signed", "split"] as const) {
    const dir = path.join(root, variant);
    mkdirSync(dir);
    const output = path.join(dir, "bundle.zip");
    await saveLayout(appLayout, output, {
      ...(variant === "signed" ? { signer } : {}),
      ...(variant === "split" ? { partSize: PART_SIZE } : {}),
    });
    const files = readDir(dir);
    const partNames = [...files.keys()].filter((name) => /\.\d{3}$/.test(name));
    const joined =
      variant === "split"
        ? Buffer.concat(partNames.map((name) => files.get(name) as Buffer))
        : (files.get("bundle.zip") as Buffer);
    variants[variant] = {
      variant,
      dir,
      input: variant === "split" ? path.join(dir, "bundle.zip.parts") : output,
      files,
      map: mapZip(joined),
      joined,
      trust: variant === "signed" ? signer.trust : [],
      ...(variant === "split" ? { partSize: PART_SIZE, partNames } : {}),
    };
  }
  return { root, store, pristineStore, before: fingerprint(store), variants };
}

/** The table row for a zip field. */
export function regionOf(field: ZipField): string {
  if (field.structure !== "entry data") return field.structure;
  const entry = field.entry ?? "";
  return entry.startsWith("blobs/") ? "blob data" : entry;
}

function zipCase(
  fixture: VariantFixture,
  kind: Case["kind"],
  joinedOffset: number,
  label?: { region: string; field: string; entry?: string },
): Case {
  const field = fieldAt(fixture.map, joinedOffset);
  const region = label?.region ?? (field ? regionOf(field) : "between records");
  const fieldName = label?.field ?? (field ? dataLabel(fixture, field, joinedOffset) : "-");
  const entry = label?.entry ?? field?.entry;
  let file = "bundle.zip";
  let offset = joinedOffset;
  if (fixture.partSize && fixture.partNames) {
    const index = Math.min(
      Math.floor(joinedOffset / fixture.partSize),
      fixture.partNames.length - 1,
    );
    file = fixture.partNames[index] as string;
    offset = joinedOffset - index * fixture.partSize;
  }
  return {
    id: `${fixture.variant}:${kind}:${file}@${offset}`,
    variant: fixture.variant,
    kind,
    region,
    field: fieldName,
    ...(entry ? { entry } : {}),
    file,
    offset,
    ...(fixture.partSize ? { joinedOffset } : {}),
  };
}

const labelCache = new Map<string, string[]>();

/** Which part of an entry's content a byte is: a JSON path, or a SHA256SUMS line part. */
function contentLabels(bytes: Buffer, entry: string): string[] {
  if (entry === "SHA256SUMS") {
    const labels: string[] = [];
    let line = 1;
    let column = 0;
    for (const byte of bytes) {
      if (byte === 0x0a) labels.push(`line ${line} newline`);
      else if (column < 64) labels.push(`line ${line} hex`);
      else if (column < 66) labels.push(`line ${line} separator`);
      else labels.push(`line ${line} name`);
      if (byte === 0x0a) {
        line++;
        column = 0;
      } else column++;
    }
    return labels;
  }
  if (entry.startsWith("blobs/")) return [];
  try {
    return jsonPaths(bytes);
  } catch {
    return [];
  }
}

function dataLabel(fixture: VariantFixture, field: ZipField, offset: number): string {
  if (field.structure !== "entry data" || !field.entry) return field.field;
  const key = `${fixture.variant}:${field.entry}`;
  let labels = labelCache.get(key);
  if (!labels) {
    labels = contentLabels(fixture.joined.subarray(field.start, field.end), field.entry);
    labelCache.set(key, labels);
  }
  return labels[offset - field.start] ?? "data";
}

function fileCase(fixture: VariantFixture, kind: Case["kind"], file: string, offset: number): Case {
  const bytes = fixture.files.get(file) as Buffer;
  const labels = jsonPaths(bytes);
  return {
    id: `${fixture.variant}:${kind}:${file}@${offset}`,
    variant: fixture.variant,
    kind,
    region: ".parts",
    field: kind === "flip" ? (labels[offset] ?? "-") : `first byte cut: ${labels[offset] ?? "-"}`,
    file,
    offset,
  };
}

/** Seeded byte offsets inside [start, end): first, last, and `count` more. */
function offsetsIn(rng: Rng, start: number, end: number, count: number): number[] {
  const picks = new Set<number>([start, end - 1]);
  for (let i = 0; i < count && picks.size < end - start; i++) picks.add(rng.int(start, end));
  return [...picks].sort((a, b) => a - b);
}

function dataCount(entry: string | undefined, full: boolean): number {
  if (entry === "ferry.json" || entry === "ferry.json.sig") return full ? 30 : 10;
  if (entry === "SHA256SUMS" || entry === "index.json") return full ? 16 : 6;
  if (entry === "oci-layout") return full ? 31 : 4;
  return full ? 8 : 2;
}

/**
 * Byte flips, chosen from the seed. Unsigned: one byte of every header field of every entry,
 * every byte of the end record, several bytes of each entry's data. Signed: the same for
 * ferry.json, ferry.json.sig, SHA256SUMS and one blob. Split: a seeded spread over the joined
 * bundle plus the `.parts` file. `full` (FERRY_STRESS=full) takes every entry and more bytes.
 */
export function flipCases(fixtures: Fixtures, seed: number, full: boolean): Case[] {
  const cases: Case[] = [];
  const root = new Rng(seed).fork("flips");
  for (const variant of ["unsigned", "signed", "split"] as const) {
    const fixture = fixtures.variants[variant];
    const rng = root.fork(variant);
    const names = fixture.map.entries.map((entry) => entry.name);
    let chosen: Set<string>;
    if (variant === "unsigned" || full) chosen = new Set(names);
    else if (variant === "signed") {
      const blobs = names.filter((name) => name.startsWith("blobs/"));
      chosen = new Set([
        "ferry.json",
        "ferry.json.sig",
        "SHA256SUMS",
        "index.json",
        ...rng.sample(blobs, 1),
      ]);
    } else chosen = new Set<string>();
    for (const field of fixture.map.fields) {
      if (field.entry !== undefined && !chosen.has(field.entry)) continue;
      if (field.structure === "entry data") {
        const count = dataCount(field.entry, full);
        for (const offset of offsetsIn(rng, field.start, field.end, count)) {
          cases.push(zipCase(fixture, "flip", offset));
        }
      } else if (field.entry === undefined && variant !== "unsigned" && !full) {
        // end records of the signed and split bundles: a few seeded bytes
        if (rng.next() < 0.5) cases.push(zipCase(fixture, "flip", rng.int(field.start, field.end)));
      } else if (field.entry === undefined) {
        for (let offset = field.start; offset < field.end; offset++) {
          cases.push(zipCase(fixture, "flip", offset));
        }
      } else {
        cases.push(zipCase(fixture, "flip", rng.int(field.start, field.end)));
      }
    }
    if (variant === "split") {
      // a seeded spread over the joined bundle (fields picked uniformly, then a byte in each)
      for (const field of rng.sample(fixture.map.fields, full ? 200 : 40)) {
        cases.push(zipCase(fixture, "flip", rng.int(field.start, field.end)));
      }
      // the first and last byte of every part (a boundary of the raw split)
      for (const [index] of (fixture.partNames ?? []).entries()) {
        const start = index * (fixture.partSize ?? 0);
        const end = Math.min(fixture.joined.length, start + (fixture.partSize ?? 0));
        cases.push(zipCase(fixture, "flip", start), zipCase(fixture, "flip", end - 1));
      }
      const parts = fixture.files.get("bundle.zip.parts") as Buffer;
      for (const offset of offsetsIn(rng, 0, parts.length, full ? 120 : 30)) {
        cases.push(fileCase(fixture, "flip", "bundle.zip.parts", offset));
      }
    }
  }
  return dedupe(cases);
}

/**
 * Cuts: every region boundary of the unsigned bundle (each record start, each data start and
 * end, each end-record field) plus a seeded sample; for the signed bundle the boundaries of
 * its last entries and a sample; for split volumes every part cut at 0, 1, half and size-1,
 * and the `.parts` file at seeded lengths.
 */
export function truncateCases(fixtures: Fixtures, seed: number, full: boolean): Case[] {
  const cases: Case[] = [];
  const root = new Rng(seed).fork("cuts");
  for (const variant of ["unsigned", "signed"] as const) {
    const fixture = fixtures.variants[variant];
    const rng = root.fork(variant);
    const size = fixture.joined.length;
    const boundaries = new Set<number>([0, 1, size - 1]);
    const entries =
      variant === "unsigned" || full
        ? fixture.map.entries
        : fixture.map.entries.filter((e) => !e.name.startsWith("blobs/"));
    for (const entry of entries) {
      for (const at of [
        entry.localHeader,
        entry.localHeader + 30,
        entry.dataStart,
        entry.dataEnd,
        entry.centralHeader,
        entry.centralHeader + 46,
      ])
        boundaries.add(at);
    }
    for (const field of fixture.map.fields) {
      if (field.entry === undefined) boundaries.add(field.start);
    }
    for (let i = 0; i < (full ? 200 : variant === "unsigned" ? 40 : 20); i++) {
      boundaries.add(rng.int(1, size));
    }
    for (const cut of [...boundaries].sort((a, b) => a - b)) {
      if (cut >= size) continue;
      const field = fieldAt(fixture.map, cut);
      cases.push(
        zipCase(fixture, "truncate", cut, {
          region: `cut in ${field ? regionOf(field) : "?"}`,
          field: field?.field ?? "-",
          ...(field?.entry ? { entry: field.entry } : {}),
        }),
      );
    }
  }
  const split = fixtures.variants.split;
  for (const name of split.partNames ?? []) {
    const size = (split.files.get(name) as Buffer).length;
    for (const cut of new Set([0, 1, Math.floor(size / 2), size - 1])) {
      cases.push({
        id: `split:truncate:${name}@${cut}`,
        variant: "split",
        kind: "truncate",
        region: "cut in a part",
        field: "part",
        file: name,
        offset: cut,
      });
    }
  }
  const parts = split.files.get("bundle.zip.parts") as Buffer;
  const rng = root.fork("parts");
  for (const cut of offsetsIn(rng, 0, parts.length, full ? 40 : 10)) {
    cases.push({
      ...fileCase(split, "truncate", "bundle.zip.parts", cut),
      region: "cut in .parts",
    });
  }
  return dedupe(cases);
}

function dedupe(cases: Case[]): Case[] {
  const seen = new Set<string>();
  return cases.filter((c) => {
    if (seen.has(c.id)) return false;
    seen.add(c.id);
    return true;
  });
}

function describeError(error: unknown): string {
  if (isFerryError(error))
    return `${error.code}: ${error.message.split("\n").slice(0, 2).join(" | ")}`;
  return `non-ferry error: ${error instanceof Error ? error.message : String(error)}`;
}

function apply(fixture: VariantFixture, c: Case): void {
  const pristine = fixture.files.get(c.file);
  if (!pristine) throw new Error(`no file ${c.file} in ${fixture.dir}`);
  const target = path.join(fixture.dir, c.file);
  if (c.kind === "truncate") writeFileSync(target, pristine.subarray(0, c.offset));
  else {
    const copy = Buffer.from(pristine);
    copy[c.offset] = (copy[c.offset] ?? 0) ^ 0xff;
    writeFileSync(target, copy);
  }
}

function restore(fixture: VariantFixture, c: Case): void {
  writeFileSync(path.join(fixture.dir, c.file), fixture.files.get(c.file) as Buffer);
}

function leftoversIn(store: string): string[] {
  const found: string[] = [];
  try {
    for (const name of readdirSync(path.join(store, ".ferry", "tmp"))) found.push(`tmp/${name}`);
  } catch {
    // no tmp yet
  }
  try {
    for (const name of readdirSync(path.join(store, ".ferry")))
      if (name.startsWith("lock")) found.push(name);
  } catch {
    // no working area
  }
  return found;
}

/** Apply one case, run verify and load, check the store, put everything back. */
export async function runCase(fixtures: Fixtures, c: Case): Promise<Outcome> {
  const fixture = fixtures.variants[c.variant];
  apply(fixture, c);
  const outcome: Outcome = {
    case: c,
    verifyCaught: false,
    verifyDetail: "",
    loadCaught: false,
    loadDetail: "",
    storeUnchanged: true,
    leftovers: [],
  };
  try {
    try {
      const report = await verifyBundle(fixture.input, { trust: fixture.trust });
      outcome.verifyCaught = !report.ok;
      const first = report.problems[0];
      outcome.verifyDetail = first
        ? `${first.code}: ${first.message.split("\n")[0]}`
        : "verify reported ok";
    } catch (error) {
      outcome.verifyCaught = true;
      outcome.verifyDetail = describeError(error);
    }
    try {
      await loadBundle(fixture.input, { storeDir: fixtures.store, trust: fixture.trust });
      outcome.loadDetail = "load succeeded";
    } catch (error) {
      outcome.loadCaught = true;
      outcome.loadDetail = describeError(error);
    }
  } finally {
    restore(fixture, c);
  }
  outcome.leftovers = leftoversIn(fixtures.store);
  const now = fingerprint(fixtures.store);
  outcome.storeUnchanged = JSON.stringify(now) === JSON.stringify(fixtures.before);
  if (!outcome.loadCaught) outcome.installedIntact = storeBlobsIntact(fixtures.store);
  if (!outcome.storeUnchanged || outcome.leftovers.length > 0) {
    // an uncaught case installed something: put the store back for the next case
    rmSync(fixtures.store, { recursive: true, force: true });
    cpSync(fixtures.pristineStore, fixtures.store, { recursive: true });
  }
  return outcome;
}

/** Every blob in the store hashes to its name (what an undetected flip could have broken). */
function storeBlobsIntact(store: string): boolean {
  const dir = path.join(store, "blobs", "sha256");
  for (const name of readdirSync(dir)) {
    const bytes = readFileSync(path.join(dir, name));
    if (sha256Hex(bytes) !== name) return false;
  }
  return true;
}

function sha256Hex(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export interface RegionRow {
  region: string;
  cases: number;
  verify: number;
  load: number;
  storeKept: number;
}

/** One row per region: cases, caught by verify, caught by load, store kept when load failed. */
export function regionTable(outcomes: Outcome[]): RegionRow[] {
  const rows = new Map<string, RegionRow>();
  for (const o of outcomes) {
    const key = `${o.case.variant} ${o.case.region}`;
    const row = rows.get(key) ?? { region: key, cases: 0, verify: 0, load: 0, storeKept: 0 };
    row.cases++;
    if (o.verifyCaught) row.verify++;
    if (o.loadCaught) row.load++;
    if (!o.loadCaught || (o.storeUnchanged && o.leftovers.length === 0)) row.storeKept++;
    rows.set(key, row);
  }
  return [...rows.values()];
}

export function formatRegionTable(title: string, rows: RegionRow[]): string {
  const header = ["region", "cases", "caught by verify", "caught by load"];
  const body = rows.map((r) => [r.region, String(r.cases), String(r.verify), String(r.load)]);
  const total = rows.reduce(
    (sum, r) => ({
      cases: sum.cases + r.cases,
      verify: sum.verify + r.verify,
      load: sum.load + r.load,
    }),
    { cases: 0, verify: 0, load: 0 },
  );
  body.push(["TOTAL", String(total.cases), String(total.verify), String(total.load)]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(" | ")} |`;
  return [
    title,
    line(header),
    `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`,
    ...body.map(line),
  ].join("\n");
}

export function describeOutcome(o: Outcome): string {
  const c = o.case;
  return `${c.id} [${c.region} / ${c.field}${c.entry ? ` of ${c.entry}` : ""}${c.joinedOffset !== undefined ? `, joined offset ${c.joinedOffset}` : ""}]: verify ${o.verifyCaught ? "caught" : "MISSED"} (${o.verifyDetail}); load ${o.loadCaught ? "caught" : "MISSED"} (${o.loadDetail})`;
}

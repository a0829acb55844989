// Over 400 lines on purpose: one class, because every check of a bundle's structure reads the
// fixed files (ferry.json, index.json, oci-layout, SHA256SUMS, the signature) from the one
// buffer each was read into once, and records its problems in one list; split into modules,
// those buffers would be passed around or, worse, read again (docs/security.md: read once).
import path from "node:path";
import type { Readable } from "node:stream";
import { createInflateRaw } from "node:zlib";
import { digestOfIntegrity } from "../../digest/integrity.js";
import { sha256Digest } from "../../digest/sha256.js";
import {
  BadBundleError,
  type BundleProblem,
  FerryError,
  isFerryError,
  NotFoundError,
} from "../../errors.js";
import type { TrustedKey } from "../../trust/keys.js";
import { verifySignature } from "../../trust/signature.js";
import {
  BundleFile,
  type BundleManifest,
  judgeEntryName,
  parseBundleManifest,
} from "../../types/bundle.js";
import { REF_NAME_ANNOTATION } from "../../types/descriptor.js";
import { type Digest, digestHex } from "../../types/digest.js";
import type { ImageIndex } from "../../types/manifest.js";
import { serializePartsManifest } from "../../types/parts.js";
import { decodeTextFile, textLines } from "../../types/text-file.js";
import { blobPath, parseLayoutIndex } from "../layout/index-file.js";
import type { SplitBundle } from "./parts-file.js";
import { type RandomAccess, readAt } from "./random-access.js";
import { type OpenedBundle, openBundleAccess, withSplitHint } from "./split-open.js";
import { indexZip, type ZipEntry } from "./zip-index.js";

const MAX_MANIFEST_FILE = 64 * 1024 * 1024;
const MAX_SMALL_FILE = 16 * 1024 * 1024;
const MAX_SIGNATURE_FILE = 64 * 1024;

/**
 * The bundle's fixed files and the most of each that is read. These bytes decide trust and
 * identity, so each is read once, into memory, and every check uses that buffer: storage that
 * answers differently on a second read (a hostile device, a racing writer) is never asked twice.
 */
const FIXED_FILES: ReadonlyArray<readonly [string, number]> = [
  [BundleFile.Manifest, MAX_MANIFEST_FILE],
  [BundleFile.Signature, MAX_SIGNATURE_FILE],
  [BundleFile.Checksums, MAX_MANIFEST_FILE],
  [BundleFile.Index, MAX_SMALL_FILE],
  [BundleFile.Layout, MAX_SMALL_FILE],
];

export interface BundleOpenOptions {
  /**
   * Collect structural problems instead of throwing on the first batch (for `verify`, which
   * reports everything). Without it, any problem throws EBADBUNDLE listing all of them.
   */
  collectProblems?: boolean;
  /**
   * Public keys to require a signature by. When given (non-empty), an unsigned bundle, a bad
   * signature or one by another key fails with ETRUST before anything else is trusted.
   */
  trust?: TrustedKey[];
  /** Split volumes: a folder of rebuilt volumes read instead of those in place (`--parts-from`). */
  partsFrom?: string | undefined;
}

/**
 * Opens a bundle and checks its structure before anything trusts it: entry names against an
 * allow-list, no links, duplicates or overlaps, ferry.json against the zip (every carried blob
 * present with its declared size, nothing unlisted), index.json and oci-layout against their
 * recorded integrity, SHA256SUMS against ferry.json. Blob bytes are not read here.
 */
export class BundleReader {
  readonly problems: BundleProblem[] = [];
  manifest: BundleManifest | undefined;
  /** The key id ferry.json.sig names (checked only when trust was configured). */
  signatureKeyId: string | undefined;
  /** True when the signature was checked against a trusted key. */
  signatureVerified = false;
  index: ImageIndex | undefined;
  /** Split volumes: the `.parts` read (once) and what the volume checks found. */
  split: OpenedBundle["split"];
  private entries = new Map<string, ZipEntry>();
  /** The fixed files' bytes, each read once (see FIXED_FILES). */
  private readonly fixed = new Map<string, Buffer>();
  /** Images each digest belongs to (from ferry.json), for naming what a bad blob breaks. */
  private readonly owners = new Map<string, string[]>();

  private constructor(readonly source: RandomAccess) {}

  get label(): string {
    return this.source.label;
  }

  /**
   * Open a bundle file, or split volumes read in place (`B.zip.parts`, `B.zip.001`, or `B.zip`
   * when only its parts exist; every part's presence and size checked first, and with trusted
   * keys the `.parts` signature before that).
   */
  static async open(path: string, options: BundleOpenOptions = {}): Promise<BundleReader> {
    return BundleReader.fromOpened(
      await openBundleAccess(path, { trust: options.trust ?? [], partsFrom: options.partsFrom }),
      options,
    );
  }

  /**
   * Read a bundle already opened by `openBundleAccess` (so its `.parts` file, read there once,
   * is the one every check here uses).
   */
  static async fromOpened(
    opened: OpenedBundle,
    options: BundleOpenOptions = {},
  ): Promise<BundleReader> {
    const { source, split } = opened;
    const reader = await BundleReader.fromRandomAccess(source, {
      ...options,
      collectProblems: true,
    }).catch((error: unknown) => {
      throw split ? withSplitHint(error, split) : error;
    });
    reader.split = split;
    if (split) reader.checkParts(split);
    if (reader.problems.length > 0 && !options.collectProblems) {
      await reader.close().catch(() => {});
      const error = reader.problemsError();
      throw split ? withSplitHint(error, split) : error;
    }
    return reader;
  }

  /**
   * The `.parts` file must belong to this bundle (same id as ferry.json) and be exactly what
   * ferry wrote (so any damaged byte shows). Its signature was checked when it was read.
   */
  private checkParts(split: SplitBundle): void {
    const { partsFile, partsBytes, manifest: parts } = split;
    if (!partsFile || !partsBytes || !parts) return;
    const name = path.basename(partsFile);
    if (this.manifest && parts.id !== this.manifest.id) {
      this.problem(
        name,
        `${name} belongs to bundle ${parts.id}, but the parts hold bundle ${this.manifest.id}`,
      );
    }
    // Byte for byte but for the encoding a Windows editor or copy may give a text file (a BOM,
    // UTF-16, CRLF line ends): any other changed byte shows, the final line end included. A
    // signature over `.parts` was checked over the exact bytes.
    const asWritten = serializePartsManifest(parts).toString("utf8");
    if (decodeTextFile(partsBytes).replaceAll("\r\n", "\n") !== asWritten) {
      this.problem(name, `${name} is not byte for byte what ferry wrote (edited or damaged)`);
    }
  }

  static async fromRandomAccess(
    source: RandomAccess,
    options: BundleOpenOptions = {},
  ): Promise<BundleReader> {
    const reader = new BundleReader(source);
    try {
      await reader.check(options.trust ?? []);
    } catch (error) {
      await source.close().catch(() => {});
      throw error;
    }
    if (reader.problems.length > 0 && !options.collectProblems) {
      await source.close().catch(() => {});
      throw reader.problemsError();
    }
    return reader;
  }

  problemsError(): BadBundleError {
    const shown = this.problems.slice(0, 20).map((p) => `  ${p.message}`);
    if (this.problems.length > 20) shown.push(`  ... and ${this.problems.length - 20} more`);
    return new BadBundleError(
      `${this.label} failed its structure check (${this.problems.length} problem(s)); nothing was written:\n${shown.join("\n")}`,
      this.problems,
      {
        hint: "copy the bundle again from the original, or save a new one; run `ferry verify` for the full list",
      },
    );
  }

  private problem(
    subject: string,
    message: string,
    code: BundleProblem["code"] = "EBADBUNDLE",
  ): void {
    const images = this.owners.get(subject.replace(/^blobs\/sha256\//, "sha256:"));
    this.problems.push({ subject, code, message, ...(images ? { images } : {}) });
  }

  entry(name: string): ZipEntry | undefined {
    return this.entries.get(name);
  }

  /** Images that need a digest, per ferry.json. */
  imagesOf(digest: string): string[] {
    return this.owners.get(digest) ?? [];
  }

  /** A stream of an entry's uncompressed bytes (not verified: the engine verifies). */
  openEntry(entry: ZipEntry): Readable {
    const raw = this.source.createReadStream(
      entry.dataStart,
      entry.dataStart + entry.compressedSize,
    );
    if (entry.method === 0) return raw;
    const inflate = createInflateRaw();
    raw.on("error", (error) => inflate.destroy(error));
    return raw.pipe(inflate);
  }

  async readEntry(entry: ZipEntry, maxBytes: number): Promise<Buffer> {
    if (entry.size > maxBytes) {
      throw new FerryError(
        "EBADBUNDLE",
        `${this.label}: ${entry.name} is ${entry.size} bytes, more than ${maxBytes} allowed`,
      );
    }
    if (entry.method === 0) return readAt(this.source, entry.dataStart, entry.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of this.openEntry(entry)) {
      total += (chunk as Buffer).length;
      if (total > entry.size)
        throw new FerryError(
          "EBADBUNDLE",
          `${this.label}: ${entry.name} inflates past its declared size`,
        );
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  private async check(trust: TrustedKey[]): Promise<void> {
    const zip = await indexZip(this.source);
    this.entries = zip.entries;
    this.problems.push(...zip.problems);
    for (const name of this.entries.keys()) {
      const verdict = judgeEntryName(name);
      if (!verdict.ok) {
        this.problem(name, `entry ${JSON.stringify(name)} is not allowed: ${verdict.reason}`);
        this.entries.delete(name);
      }
    }
    await this.readFixedFiles();
    if (trust.length > 0) this.checkSignature(trust);
    else this.noteSignature();
    const manifest = this.readManifest();
    if (!manifest) return;
    this.manifest = manifest;
    for (const image of manifest.images) {
      for (const digest of image.blobs) {
        const owners = this.owners.get(digest) ?? [];
        owners.push(image.ref);
        this.owners.set(digest, owners);
      }
    }
    this.checkBlobListing(manifest);
    const files = this.checkRecordedFiles(manifest);
    if (files.index) this.checkIndex(manifest, files.index);
    this.checkChecksums(manifest, files);
  }

  /** Read each fixed file present, once (too large, or inflating past its size: a problem). */
  private async readFixedFiles(): Promise<void> {
    for (const [name, limit] of FIXED_FILES) {
      const entry = this.entries.get(name);
      if (!entry) continue;
      try {
        this.fixed.set(name, await this.readEntry(entry, limit));
      } catch (error) {
        if (!isFerryError(error) || error.code !== "EBADBUNDLE") throw error;
        this.problem(name, error.message);
      }
    }
  }

  /** ferry.json is the root of trust: with trusted keys configured, its signature must verify. */
  private checkSignature(trust: TrustedKey[]): void {
    if (!this.entries.has(BundleFile.Manifest)) {
      throw new FerryError("ETRUST", `${this.label} has no ferry.json to check a signature over`);
    }
    const manifestBytes = this.fixed.get(BundleFile.Manifest);
    const signatureUnread =
      this.entries.has(BundleFile.Signature) && !this.fixed.has(BundleFile.Signature);
    if (!manifestBytes || signatureUnread) throw this.problemsError();
    const key = verifySignature(
      manifestBytes,
      this.fixed.get(BundleFile.Signature),
      trust,
      this.label,
    );
    this.signatureKeyId = key.id;
    this.signatureVerified = true;
  }

  private noteSignature(): void {
    const bytes = this.fixed.get(BundleFile.Signature);
    if (!bytes) return;
    try {
      const doc = JSON.parse(bytes.toString("utf8")) as { keyId?: unknown };
      if (typeof doc.keyId === "string") this.signatureKeyId = doc.keyId;
    } catch {
      this.problem(BundleFile.Signature, "ferry.json.sig is not a ferry signature file");
    }
  }

  private readManifest(): BundleManifest | undefined {
    for (const required of [BundleFile.Layout, BundleFile.Index, BundleFile.Manifest]) {
      if (!this.entries.has(required))
        this.problem(required, `${required} is missing: this is not a complete ferry bundle`);
    }
    const bytes = this.fixed.get(BundleFile.Manifest);
    if (!bytes) return undefined;
    try {
      return parseBundleManifest(bytes);
    } catch (error) {
      this.problem(BundleFile.Manifest, (error as Error).message);
      return undefined;
    }
  }

  /** Every carried blob is listed with the right size; every listed blob is carried. */
  private checkBlobListing(manifest: BundleManifest): void {
    const listed = new Set<string>();
    for (const blob of manifest.blobs) {
      const name = blobPath(blob.digest);
      if (listed.has(name)) this.problem(name, `ferry.json lists blob ${blob.digest} twice`);
      listed.add(name);
      if (digestOfIntegrity(blob.integrity) !== blob.digest) {
        this.problem(
          name,
          `ferry.json's integrity for blob ${blob.digest} does not match its digest`,
        );
      }
      const entry = this.entries.get(name);
      if (!entry) {
        this.problem(
          name,
          `blob ${blob.digest} is listed in ferry.json but missing from the bundle`,
          "ENOTFOUND",
        );
      } else if (entry.size !== blob.size) {
        this.problem(
          name,
          `blob ${blob.digest} is ${entry.size} bytes in the zip, ferry.json says ${blob.size}`,
          "ESIZE",
        );
      }
    }
    const required = new Set(manifest.requires.map((r) => r.digest as string));
    for (const name of this.entries.keys()) {
      if (name.startsWith("blobs/sha256/") && !listed.has(name)) {
        this.problem(name, `entry ${name} is not listed in ferry.json`);
      }
    }
    for (const image of manifest.images) {
      for (const digest of image.blobs) {
        if (!listed.has(blobPath(digest)) && !required.has(digest)) {
          this.problem(
            blobPath(digest),
            `${image.ref} needs ${digest}, which ferry.json neither carries nor requires`,
          );
        }
      }
    }
  }

  private checkRecordedFiles(manifest: BundleManifest): { index?: Buffer; layout?: Buffer } {
    const result: { index?: Buffer; layout?: Buffer } = {};
    for (const name of [BundleFile.Layout, BundleFile.Index] as const) {
      const entry = this.entries.get(name);
      const record = manifest.files[name];
      if (!entry) continue;
      if (!record) {
        this.problem(name, `ferry.json records no integrity for ${name}`);
        continue;
      }
      const bytes = this.fixed.get(name);
      if (!bytes) continue;
      const found = sha256Digest(bytes);
      if (bytes.length !== record.size || digestOfIntegrity(record.integrity) !== found) {
        this.problem(
          name,
          `${name} does not match the size and integrity ferry.json records for it`,
          "EINTEGRITY",
        );
        continue;
      }
      if (name === BundleFile.Index) result.index = bytes;
      else result.layout = bytes;
    }
    return result;
  }

  /** index.json names exactly the images ferry.json lists, by the same digests. */
  private checkIndex(manifest: BundleManifest, bytes: Buffer): void {
    let index: ImageIndex;
    try {
      index = parseLayoutIndex(bytes, this.label);
    } catch (error) {
      this.problem(BundleFile.Index, (error as Error).message);
      return;
    }
    this.index = index;
    const expected = new Map(manifest.images.map((image) => [image.ref, image.digest as string]));
    for (const descriptor of index.manifests) {
      const ref = descriptor.annotations?.[REF_NAME_ANNOTATION] ?? "(unnamed)";
      const digest = expected.get(ref);
      if (digest === undefined)
        this.problem(BundleFile.Index, `index.json names ${ref}, which ferry.json does not list`);
      else if (digest !== descriptor.digest) {
        this.problem(
          BundleFile.Index,
          `index.json points ${ref} at ${descriptor.digest}, ferry.json at ${digest}`,
        );
      }
      expected.delete(ref);
    }
    for (const ref of expected.keys())
      this.problem(BundleFile.Index, `ferry.json lists ${ref}, which index.json lacks`);
  }

  /** SHA256SUMS must agree with ferry.json (it is there for `sha256sum -c` without ferry). */
  private checkChecksums(
    manifest: BundleManifest,
    files: { index?: Buffer; layout?: Buffer },
  ): void {
    if (!this.entries.has(BundleFile.Checksums)) {
      this.problem(BundleFile.Checksums, "SHA256SUMS is missing");
      return;
    }
    const sums = this.fixed.get(BundleFile.Checksums);
    if (!sums) return;
    const expected = new Map<string, string>();
    for (const blob of manifest.blobs)
      expected.set(blobPath(blob.digest), digestHex(blob.digest as Digest));
    if (files.layout) expected.set(BundleFile.Layout, digestHex(sha256Digest(files.layout)));
    if (files.index) expected.set(BundleFile.Index, digestHex(sha256Digest(files.index)));
    for (const name of [BundleFile.Manifest, BundleFile.Signature]) {
      const bytes = this.fixed.get(name);
      if (bytes) expected.set(name, digestHex(sha256Digest(bytes)));
    }
    // A BOM, CRLF line ends and upper-case hex (Windows tools) are read as sha256sum reads them.
    const text = decodeTextFile(sums);
    const seen = new Set<string>();
    for (const line of textLines(text)) {
      if (line.trim() === "") continue;
      const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
      if (!match) {
        this.problem(
          BundleFile.Checksums,
          `SHA256SUMS has a malformed line: ${JSON.stringify(line.slice(0, 100))}`,
        );
        continue;
      }
      const [, upperOrLower, name] = match as unknown as [string, string, string];
      const hex = upperOrLower.toLowerCase();
      seen.add(name);
      const want = expected.get(name);
      if (want === undefined)
        this.problem(
          BundleFile.Checksums,
          `SHA256SUMS lists ${name}, which ferry.json does not cover`,
        );
      else if (want !== hex)
        this.problem(
          BundleFile.Checksums,
          `SHA256SUMS disagrees with ferry.json about ${name}`,
          "EINTEGRITY",
        );
    }
    for (const name of expected.keys()) {
      if (!seen.has(name)) this.problem(BundleFile.Checksums, `SHA256SUMS does not list ${name}`);
    }
  }

  /** The entry for a blob, or NotFoundError naming it. */
  blobEntry(digest: Digest): ZipEntry {
    const entry = this.entries.get(blobPath(digest));
    if (!entry) {
      throw new NotFoundError(`${this.label} does not carry blob ${digest}`, {
        details: { digest },
      });
    }
    return entry;
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

import { type FileHandle, open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { FerryError, fromSystemError } from "../../errors.js";
import {
  MAX_PARTS,
  PARITY_SCHEME,
  PARTS_SCHEMA,
  type PartsManifest,
  parityName,
  parsePartsManifest,
  partName,
  partsFileName,
  serializePartsManifest,
  splitRange,
  validatePartsManifest,
} from "../../types/parts.js";
import { syncDirectory, writeFileAtomic } from "../../util/atomic-file.js";
import { fileOps } from "../../util/fs-retry.js";
import { trackRunTemp } from "../../util/run-temps.js";
import { uniqueTempName } from "../../util/temp-name.js";
import { writeFully } from "./random-access.js";
import { type DigestMode, DigestRunner } from "./split-digest.js";
import type { ZipFinished, ZipFinishInfo, ZipOutput } from "./zip-output.js";

export interface SplitOptions {
  /** Bytes per part (the last part may be shorter). */
  partSize: number;
  /** Also write an XOR parity volume, `<bundle>.parity`. */
  parity?: boolean | undefined;
  /** When part hashing and parity run (default: as entries settle). */
  digest?: DigestMode | undefined;
  /** Largest part size whose parity is built in memory (default 256 MiB; for tests). */
  parityInMemory?: number | undefined;
  /** Sign the exact bytes of `.parts`; the signature goes to `<bundle>.parts.sig`. */
  signParts?: ((partsBytes: Buffer) => Buffer) | undefined;
}

interface OpenPart {
  temp: string;
  handle: FileHandle | undefined;
}

/**
 * A zip output that writes raw split volumes `B.zip.001`, `B.zip.002`, ... directly: each
 * archive position maps to (part, offset), so a write (an entry's data, or a CRC patch into a
 * local header in an earlier part) lands where it belongs and no joined file ever exists.
 * Parts are written under temp names; `commit()` renames them all, then the parity volume,
 * and writes `B.zip.parts` last. Until then no final name is touched; `abort()` removes all.
 */
export class SplitOutput implements ZipOutput {
  private readonly parts: OpenPart[] = [];
  private extent = 0;
  private finished = false;

  private constructor(
    readonly target: string,
    private readonly options: SplitOptions,
    private readonly parityTemp: string | undefined,
    private readonly runner: DigestRunner,
  ) {}

  static async create(target: string, options: SplitOptions): Promise<SplitOutput> {
    if (!Number.isSafeInteger(options.partSize) || options.partSize < 1) {
      throw new FerryError(
        "EUSAGE",
        `split part size ${options.partSize} is not a whole number of bytes`,
      );
    }
    let parityTemp: string | undefined;
    if (options.parity) {
      parityTemp = uniqueTempName(
        path.join(path.dirname(target), parityName(path.basename(target))),
      );
      try {
        await (await open(parityTemp, "wx", 0o644)).close();
        trackRunTemp(parityTemp);
      } catch (error) {
        throw fromSystemError(error, parityTemp, "creating");
      }
    }
    const runner = new DigestRunner(
      {
        partSize: options.partSize,
        parityPath: parityTemp,
        parityInMemory: options.parityInMemory,
      },
      options.digest,
    );
    return new SplitOutput(target, options, parityTemp, runner);
  }

  private get bundle(): string {
    return path.basename(this.target);
  }

  private finalPath(name: string): string {
    return path.join(path.dirname(this.target), name);
  }

  private async part(index: number): Promise<FileHandle> {
    const existing = this.parts[index];
    if (existing?.handle) return existing.handle;
    if (existing) {
      throw new FerryError("EINTERNAL", `split writer: part ${index + 1} is already closed`);
    }
    if (index >= MAX_PARTS) {
      throw new FerryError(
        "EUSAGE",
        `${this.target} needs more than ${MAX_PARTS} parts of ${this.options.partSize} bytes`,
        { hint: "choose a larger --split size" },
      );
    }
    for (let i = this.parts.length; i < index; i++) await this.part(i);
    const final = this.finalPath(partName(this.bundle, index));
    const temp = uniqueTempName(final);
    let handle: FileHandle;
    try {
      handle = await open(temp, "wx", 0o644);
    } catch (error) {
      throw fromSystemError(error, final, "creating");
    }
    trackRunTemp(temp);
    this.parts[index] = { temp, handle };
    this.runner.addPart(index, temp);
    return handle;
  }

  async write(buffer: Uint8Array, position: number): Promise<void> {
    for (const piece of splitRange(position, buffer.length, this.options.partSize)) {
      const handle = await this.part(piece.index);
      try {
        await writeFully(
          handle,
          buffer.subarray(piece.from, piece.from + piece.length),
          piece.offset,
        );
      } catch (error) {
        throw fromSystemError(error, this.finalPath(partName(this.bundle, piece.index)), "writing");
      }
    }
    this.extent = Math.max(this.extent, position + buffer.length);
  }

  settle(position: number): void {
    this.runner.advance(position);
  }

  async commit(size: number, info: ZipFinishInfo): Promise<ZipFinished> {
    if (!info.bundleId) throw new FerryError("EINTERNAL", "a split bundle needs its id to finish");
    if (size !== this.extent) {
      throw new FerryError(
        "EINTERNAL",
        `split writer: ${size} bytes finished, ${this.extent} written`,
      );
    }
    const [digests] = await Promise.all([
      this.runner.finish(size),
      ...this.parts.map(async (part) => {
        await part.handle?.datasync();
        await part.handle?.close();
        part.handle = undefined;
      }),
    ]);
    const bundle = this.bundle;
    const manifest: PartsManifest = {
      schema: PARTS_SCHEMA,
      bundle,
      id: info.bundleId,
      size,
      partSize: this.options.partSize,
      parts: digests.parts.map((digest, index) => ({
        name: partName(bundle, index),
        size: digest.size,
        sha256: digest.sha256,
      })),
      parity: digests.parity
        ? { scheme: PARITY_SCHEME, name: parityName(bundle), ...digests.parity }
        : null,
    };
    validatePartsManifest(manifest, partsFileName(bundle));
    const partsPath = this.finalPath(partsFileName(bundle));
    const previous = await readPreviousParts(partsPath, bundle);
    const moved: string[] = [];
    try {
      for (const [index, part] of this.parts.entries()) {
        const final = this.finalPath(partName(bundle, index));
        await fileOps.rename(part.temp, final);
        moved.push(final);
      }
      if (this.parityTemp) {
        const final = this.finalPath(parityName(bundle));
        await fileOps.rename(this.parityTemp, final);
        moved.push(final);
      }
      const partsBytes = serializePartsManifest(manifest);
      if (this.options.signParts) {
        await writeFileAtomic(`${partsPath}.sig`, this.options.signParts(partsBytes));
        moved.push(`${partsPath}.sig`);
      }
      await writeFileAtomic(partsPath, partsBytes);
    } catch (error) {
      for (const file of moved) await rm(file, { force: true }).catch(() => {});
      throw fromSystemError(error, partsPath, "writing");
    }
    this.finished = true;
    await syncDirectory(path.dirname(this.target));
    // Volumes of an earlier bundle of the same name that this one does not replace.
    const written = new Set(moved.map((file) => path.basename(file)));
    for (const name of staleVolumes(previous, written)) {
      await rm(this.finalPath(name), { force: true }).catch(() => {});
    }
    return { size, parts: manifest };
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    for (const part of this.parts) {
      await part.handle?.close().catch(() => {});
      part.handle = undefined;
    }
    await this.runner.abort().catch(() => {});
    for (const part of this.parts) await rm(part.temp, { force: true }).catch(() => {});
    if (this.parityTemp) await rm(this.parityTemp, { force: true }).catch(() => {});
  }
}

/** The `.parts` this save replaces, if it describes volumes of the same bundle name. */
async function readPreviousParts(
  partsPath: string,
  bundle: string,
): Promise<PartsManifest | undefined> {
  try {
    const previous = parsePartsManifest(await readFile(partsPath), partsPath);
    return previous.bundle === bundle ? previous : undefined;
  } catch {
    return undefined;
  }
}

/** Volume names a previous `.parts` listed that the new bundle did not write. */
function staleVolumes(previous: PartsManifest | undefined, written: Set<string>): string[] {
  if (!previous) return [];
  const names = previous.parts.map((part) => part.name);
  if (previous.parity) names.push(previous.parity.name);
  return names.filter((name) => !written.has(name));
}

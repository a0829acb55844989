/**
 * A .wim file (a path or an http(s) URL) as a copy source: it offers one OS image, the WIM
 * wrapped as an OCI artifact (see artifact.ts).
 *
 * The artifact's manifest names the WIM's sha256, and the engine plans (manifest digests)
 * before it copies, so opening the source reads the whole WIM once to hash it. That is the
 * one extra read of a save: the copy then reads the file again and the engine verifies it
 * against the digest computed here, so a file that changes in between is caught. A download
 * is hashed as it is written to a temporary file (the download is that read).
 */

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import {
  FerryError,
  IntegrityError,
  isFerryError,
  NotFoundError,
  UsageError,
} from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { type Digest, isSha256Hex } from "../../types/digest.js";
import type { Source, SourceImage } from "../../types/transport.js";
import { isHttpUrl, redactUrl } from "../../types/url.js";
import type { WimInfo } from "../../types/wim.js";
import { RESERVED_INPUT_HINT, reservedInputProblem } from "../../types/windows-names.js";
import { trackRunTemp } from "../../util/run-temps.js";
import {
  buildWimArtifact,
  type OsImageFacts,
  osImageFactsOf,
  osImagePlatform,
  osImageRecordAnnotations,
  type WimArtifact,
} from "./artifact.js";
import { downloadWim, fileNameOfUrl, type WimDownloadLimits, type WimNetwork } from "./download.js";
import { hashWimStream, type WimHashPass } from "./hash-pass.js";
import { parseWimHeader } from "./header.js";
import { openWimFile, readWimInfo } from "./reader.js";
import { parseWimXml } from "./xml-info.js";

const READ_CHUNK = 1024 * 1024;

export interface WimSourceOptions {
  /** The sha256 the WIM must have (`sha256:<hex>` or `<hex>`), e.g. from a catalog. */
  sha256?: string;
  /** Where a downloaded WIM is kept until the source is closed (default: the OS temp folder). */
  tempDir?: string;
  /** Timeouts and speed floor of a URL's download. */
  limits?: WimDownloadLimits;
  /** Proxies and extra CAs for a URL's download. */
  network?: WimNetwork;
}

/** `sha256:<64 lower-case hex>` from `--sha256` text, or a usage error. */
export function parseExpectedSha256(text: string): Digest {
  const hex = text
    .trim()
    .replace(/^sha256:/i, "")
    .toLowerCase();
  if (!isSha256Hex(hex)) {
    throw new UsageError(`--sha256 ${JSON.stringify(text)} is not a sha256 (64 hex digits)`, {
      hint: "give the value the catalog publishes, e.g. --sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    });
  }
  return `sha256:${hex}`;
}

/** One .wim file as a source of one OS image artifact. */
export class WimSource implements Source {
  readonly label: string;

  private constructor(
    /** The local file the bytes come from (a download's temporary copy for a URL). */
    readonly file: string,
    /** `wim:/path/NanoServer.wim` or `wim:https://host/path/NanoServer.wim` (no query). */
    readonly origin: string,
    readonly facts: OsImageFacts,
    readonly artifact: WimArtifact,
    /** How long the hashing read (or the download) took. */
    readonly hashSeconds: number,
    private readonly tempDir: string | undefined,
  ) {
    this.label = origin;
  }

  /** Open a WIM from a path or an http(s) URL; read it once to learn its sha256. */
  static async open(location: string, options: WimSourceOptions = {}): Promise<WimSource> {
    const expected = options.sha256 === undefined ? undefined : parseExpectedSha256(options.sha256);
    if (isHttpUrl(location)) return WimSource.openUrl(location, expected, options);
    const file = path.resolve(location);
    const reserved = reservedInputProblem(file);
    if (reserved) throw new FerryError("EBADWIM", reserved, { hint: RESERVED_INPUT_HINT });
    const info = await readWimInfo(file);
    checkWhole(info, location);
    const handle = await openWimFile(file);
    const pass = await hashWimStream(
      handle.createReadStream({ highWaterMark: READ_CHUNK }),
      location,
    );
    checkSameHeader(info, pass, location);
    checkExpected(expected, pass, location);
    return WimSource.build(file, `wim:${file}`, path.basename(file), pass, undefined);
  }

  private static async openUrl(
    url: string,
    expected: Digest | undefined,
    options: WimSourceOptions,
  ): Promise<WimSource> {
    const label = redactUrl(url);
    const tempDir = await mkdtemp(path.join(options.tempDir ?? os.tmpdir(), ".ferry-wim-"));
    // Listed for a second Ctrl-C, which stops ferry at once (see util/run-temps.ts).
    trackRunTemp(tempDir);
    try {
      const fileName = fileNameOfUrl(url);
      const file = path.join(tempDir, fileName);
      const pass = await downloadWim(url, file, {
        ...(options.network ? { network: options.network } : {}),
        ...(options.limits ? { limits: options.limits } : {}),
      });
      checkExpected(expected, pass, label);
      let info: WimInfo;
      try {
        info = await readWimInfo(file);
      } catch (error) {
        throw relabel(error, file, label);
      }
      checkWhole(info, label);
      checkSameHeader(info, pass, label);
      return WimSource.build(file, `wim:${label}`, fileName, pass, tempDir);
    } catch (error) {
      await rm(tempDir, { recursive: true, force: true }).catch(() => {});
      throw error;
    }
  }

  private static build(
    file: string,
    origin: string,
    fileName: string,
    pass: WimHashPass,
    tempDir: string | undefined,
  ): WimSource {
    const label = origin.slice("wim:".length);
    const header = parseWimHeader(pass.headerBytes, pass.size, label);
    const xml = parseWimXml(pass.xmlBytes, label);
    const wim = { digest: pass.digest, size: pass.size };
    const facts = osImageFactsOf(header, xml.images, wim, label);
    const artifact = buildWimArtifact(facts, header, xml.images, fileName);
    return new WimSource(file, origin, facts, artifact, pass.seconds, tempDir);
  }

  async images(): Promise<SourceImage[]> {
    return [
      {
        name: this.facts.ref,
        // The platform the OS image provides, for reports; a platform filter applies to it too.
        descriptor: { ...this.artifact.manifest.descriptor, platform: osImagePlatform(this.facts) },
        origin: this.origin,
        annotations: osImageRecordAnnotations(this.facts),
      },
    ];
  }

  async fetchManifest(descriptor: Descriptor): Promise<Buffer> {
    if (descriptor.digest === this.artifact.manifest.descriptor.digest) {
      return this.artifact.manifest.bytes;
    }
    throw new NotFoundError(`${this.label} has no manifest ${descriptor.digest}`);
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    if (descriptor.digest === this.artifact.config.descriptor.digest) {
      return Readable.from([this.artifact.config.bytes]);
    }
    if (descriptor.digest === this.artifact.layer.digest) {
      try {
        const handle = await openWimFile(this.file);
        return handle.createReadStream({ highWaterMark: READ_CHUNK });
      } catch (error) {
        if (isFerryError(error) && error.code === "ENOTFOUND") {
          throw new NotFoundError(`${this.label}: ${this.file} is gone`);
        }
        throw error;
      }
    }
    throw new NotFoundError(`${this.label} has no blob ${descriptor.digest}`);
  }

  async close(): Promise<void> {
    if (this.tempDir) await rm(this.tempDir, { recursive: true, force: true }).catch(() => {});
  }
}

/** A split set is refused: ferry carries whole WIMs (readWimInfo already named missing parts). */
function checkWhole(info: WimInfo, label: string): void {
  if (info.totalParts === 1) return;
  const parts = info.partPaths.map((p) => path.basename(p)).join(" ");
  throw new FerryError(
    "EBADWIM",
    `${label}: part ${info.partNumber} of a ${info.totalParts}-part split WIM (.swm); ferry saves whole WIMs only`,
    {
      hint: `join the parts first: wimlib-imagex join Joined.wim ${parts}`,
      details: { parts: info.partPaths },
    },
  );
}

/** The bytes hashed must be the bytes whose header readWimInfo checked (a file can change). */
function checkSameHeader(info: WimInfo, pass: WimHashPass, label: string): void {
  const header = parseWimHeader(pass.headerBytes, pass.size, label);
  const same =
    pass.size === info.size &&
    header.guid === info.header.guid &&
    header.xmlData.offset === info.header.xmlData.offset &&
    header.xmlData.sizeInWim === info.header.xmlData.sizeInWim &&
    pass.xmlBytes.length === header.xmlData.sizeInWim;
  if (!same) {
    throw new FerryError("EIO", `${label} changed while ferry was reading it`, {
      hint: "wait until the file is completely copied, then run the same command again",
    });
  }
}

function checkExpected(expected: Digest | undefined, pass: WimHashPass, label: string): void {
  if (expected === undefined || expected === pass.digest) return;
  throw new IntegrityError(label, expected, pass.digest, {
    hint: "the file is not the one the --sha256 value was published for: download it again, or check the value",
  });
}

function relabel(error: unknown, file: string, label: string): unknown {
  if (!(error instanceof FerryError)) return error;
  const message = error.message.split(file).join(label);
  return new FerryError(error.code, message, {
    ...(error.hint ? { hint: error.hint } : {}),
    details: error.details,
    cause: error,
  });
}

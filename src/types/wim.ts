/**
 * Types for Windows Imaging Format (.wim / .swm) files as ferry reads them:
 * the 208-byte header, the per-image facts from the XML data, and a few pure
 * helpers that turn an image's name and version into ferry names.
 */

/** How the file resources of a WIM are compressed. */
export type WimCompression = "none" | "xpress" | "lzx" | "lzms";

/**
 * One resource header (24 bytes on disk): 7-byte stored size, 1-byte flags,
 * u64 offset, u64 original (uncompressed) size. A size of 0 means "absent".
 */
export interface WimResourceHeader {
  /** Bytes the resource occupies in the file. */
  sizeInWim: number;
  /** Raw resource flags (0x01 free, 0x02 metadata, 0x04 compressed, 0x08 spanned, 0x10 solid). */
  flags: number;
  /** Byte offset of the resource in the file. */
  offset: number;
  /** Bytes of the resource once decompressed. */
  originalSize: number;
  /** True when the compressed flag (0x04) is set. */
  compressed: boolean;
}

/** The parsed 208-byte WIM header. */
export interface WimHeader {
  headerSize: number;
  /** Format version, e.g. 0x10d00 (classic) or 0xe00 (solid / LZMS). */
  version: number;
  /** Raw header flags. */
  flags: number;
  /** Names of the flags that are set, as wimlib prints them (e.g. "COMPRESS_LZX"). */
  flagNames: string[];
  compression: WimCompression;
  /** Compression chunk size in bytes (0 for an uncompressed WIM). */
  chunkSize: number;
  /** The GUID as 32 lower-case hex digits in file byte order (as `wiminfo` prints it). */
  guid: string;
  /** 1-based part number within a split (.swm) set; 1 for a whole WIM. */
  partNumber: number;
  /** Number of parts in the split set; 1 for a whole WIM. */
  totalParts: number;
  /** True when the spanned flag (0x08) is set: this file is one part of a split set. */
  spanned: boolean;
  imageCount: number;
  blobTable: WimResourceHeader;
  xmlData: WimResourceHeader;
  bootMetadata: WimResourceHeader;
  /** 1-based index of the bootable image, 0 when there is none. */
  bootIndex: number;
  integrityTable: WimResourceHeader;
}

/** What the XML data says about one image of a WIM. Absent elements are `undefined`. */
export interface WimImageInfo {
  /** 1-based image index (the INDEX attribute, or the position when it is absent). */
  index: number;
  name?: string;
  description?: string;
  displayName?: string;
  displayDescription?: string;
  /** The FLAGS element (an edition name such as "ServerDatacenterCore"). */
  flags?: string;
  /** OCI architecture name mapped from WINDOWS/ARCH ("386", "arm", "amd64", "arm64"). */
  architecture?: string;
  /** The raw WINDOWS/ARCH number, also kept when it has no OCI name. */
  archCode?: number;
  /** "MAJOR.MINOR.BUILD.SPBUILD"; undefined when WINDOWS/VERSION/MAJOR is missing. */
  version?: string;
  /**
   * The parts of WINDOWS/VERSION the XML lacks (`MINOR`, `BUILD`, `SPBUILD`), shown as 0 in
   * `version`; absent when all four are there. Saving refuses an OS image with a guessed version.
   */
  versionPartsMissing?: string[];
  productName?: string;
  editionId?: string;
  installationType?: string;
  totalBytes?: number;
  dirCount?: number;
  fileCount?: number;
  /** CREATIONTIME as an ISO-8601 date. */
  creationTime?: string;
  /** LASTMODIFICATIONTIME as an ISO-8601 date. */
  lastModificationTime?: string;
}

/** What the XML data of a WIM says, image by image. */
export interface WimXmlInfo {
  images: WimImageInfo[];
  /** The top-level /WIM/TOTALBYTES element, when present. */
  totalBytes?: number;
}

/** Everything ferry reads from a WIM file: its header and its XML data. */
export interface WimInfo {
  /** The file that was read. */
  path: string;
  /** Its size in bytes. */
  size: number;
  header: WimHeader;
  images: WimImageInfo[];
  /** /WIM/TOTALBYTES, when present. */
  totalBytes?: number;
  compression: WimCompression;
  hasIntegrityTable: boolean;
  partNumber: number;
  totalParts: number;
  bootIndex: number;
  /** Every part of the set in part order (just `[path]` for a whole WIM). */
  partPaths: string[];
}

/** Known WINDOWS/ARCH values and their OCI architecture names. */
export const WIM_ARCHITECTURES: Readonly<Record<number, string>> = {
  0: "386",
  5: "arm",
  9: "amd64",
  12: "arm64",
};

function withoutWhitespace(text: string): string {
  return text.replace(/\s+/g, "");
}

/**
 * The full name the old Windows container tools used for an OS image:
 * `CN=Microsoft_<Name>_<Version>`, with white space removed from the name
 * (`legacyFullName("NanoServer", "10.0.14300.1010")` → `CN=Microsoft_NanoServer_10.0.14300.1010`).
 */
export function legacyFullName(name: string, version: string): string {
  return `CN=Microsoft_${withoutWhitespace(name)}_${version}`;
}

/**
 * The ferry reference of an installed OS image: lower-case name without white space,
 * a colon, and the version (`wimImageRefName("Nano Server", "10.0.14300.1010")` →
 * `nanoserver:10.0.14300.1010`). Callers still validate the result as a reference.
 */
export function wimImageRefName(name: string, version: string): string {
  return `${withoutWhitespace(name).toLowerCase()}:${version}`;
}

/** What a Windows base OS image is, from its WIM's metadata: shown by images, load and inspect. */
export interface OsImageSummary {
  /** Image 1's NAME (`NanoServer`). */
  name: string;
  /** MAJOR.MINOR.BUILD.SPBUILD. */
  version: string;
  architecture: string;
  /** `CN=Microsoft_NanoServer_10.0.14300.1010`. */
  fullName: string;
  imageCount: number;
  /** Every image's NAME in index order (2: the Hyper-V utility VM). */
  images: string[];
}

/**
 * The image names an OS image's annotation lists (`vnd.ferry.wim.images`, a JSON array);
 * empty when the annotation is absent or not an array.
 */
export function wimImageNamesOf(annotation: string | undefined): string[] {
  try {
    const parsed = JSON.parse(annotation ?? "[]") as unknown;
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}

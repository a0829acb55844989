/** Media types ferry understands. */
export const MediaType = {
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciEmpty: "application/vnd.oci.empty.v1+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerManifestSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  OciNondistributableLayer: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciNondistributableLayerGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  /** A Windows base OS image stored as an OCI artifact layer. */
  Wim: "application/x-ms-wim",
  /** The artifact type / config media type of a ferry WIM artifact. */
  WimArtifact: "application/vnd.ferry.wim.v1",
  /** The config blob of a ferry WIM artifact: the WIM's header and XML facts as JSON. */
  WimConfig: "application/vnd.ferry.wim.config.v1+json",
} as const;

/**
 * Annotation keys ferry writes on OS image artifacts (manifest annotations, the bundle's
 * per-image annotations and the store's index.json entries).
 */
export const FerryAnnotation = {
  /** `os-image` for a Windows base OS image (a WIM artifact); absent for container images. */
  Kind: "vnd.ferry.kind",
  /** The WIM's image 1 NAME, as written (`NanoServer`). */
  OsName: "vnd.ferry.os.name",
  /** MAJOR.MINOR.BUILD.SPBUILD of image 1 (`10.0.14300.1010`). */
  OsVersion: "vnd.ferry.os.version",
  /** OCI architecture of image 1 (`amd64`). */
  OsArchitecture: "vnd.ferry.os.architecture",
  /** The old tools' full name: `CN=Microsoft_NanoServer_10.0.14300.1010`. */
  OsFullName: "vnd.ferry.os.full-name",
  /** How many images the WIM holds (2 when a Hyper-V utility VM image is carried). */
  WimImageCount: "vnd.ferry.wim.image-count",
  /** A JSON array of the WIM's image names, in index order. */
  WimImages: "vnd.ferry.wim.images",
  /** `none`, `xpress`, `lzx` or `lzms`. */
  WimCompression: "vnd.ferry.wim.compression",
  /** The sha256 of the .wim file (bundle and store records only, never in the manifest). */
  WimDigest: "vnd.ferry.wim.digest",
  /** The size of the .wim file in bytes (bundle and store records only). */
  WimSize: "vnd.ferry.wim.size",
} as const;

/** The value of `FerryAnnotation.Kind` for OS images. */
export const OS_IMAGE_KIND = "os-image";

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList;
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.OciManifest || mediaType === MediaType.DockerManifest;
}

export function isSchema1MediaType(mediaType: string | undefined): boolean {
  return (
    mediaType === MediaType.DockerManifestSchema1 ||
    mediaType === MediaType.DockerManifestSchema1Signed
  );
}

export function isForeignLayerMediaType(mediaType: string | undefined): boolean {
  return (
    mediaType === MediaType.DockerForeignLayer ||
    mediaType === MediaType.OciNondistributableLayer ||
    mediaType === MediaType.OciNondistributableLayerGzip
  );
}

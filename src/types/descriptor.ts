import type { Digest } from "./digest.js";
import type { Platform } from "./platform.js";

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

/** The annotation that names an image in an OCI layout's index.json. */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";
/** containerd's (and Docker 25+'s) full image name annotation. */
export const CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name";
export const CREATED_ANNOTATION = "org.opencontainers.image.created";

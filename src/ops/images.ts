import { planImage } from "../engine/plan.js";
import { isFerryError } from "../errors.js";
import { refNameOf } from "../transports/layout/index-file.js";
import { LayoutSource } from "../transports/layout/source.js";
import { Store } from "../transports/layout/store.js";
import { parseImageConfig } from "../types/manifest.js";
import { formatPlatform } from "../types/platform.js";
import { familiarRepository, parseReference } from "../types/reference.js";

export interface StoredImage {
  ref: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  size: number;
  created?: string;
  platforms: string[];
  kind: "image" | "os-image";
  annotations: Record<string, string>;
  /** Set when the image's content could not be read (a damaged store: run `ferry check`). */
  error?: string;
}

/** List the images in the store, like `docker images`. */
export async function listImages(storeDir: string): Promise<StoredImage[]> {
  if (!(await Store.exists(storeDir))) return [];
  const store = await Store.open(storeDir);
  const source = await LayoutSource.open(store.files, {
    transport: "store",
    fallbackRepository: "localhost/unnamed",
    allowEmpty: true,
  });
  const images: StoredImage[] = [];
  for (const sourceImage of await source.images()) {
    const { descriptor } = sourceImage;
    const refName = refNameOf(descriptor) ?? sourceImage.name;
    const annotations = descriptor.annotations ?? {};
    let repository = refName;
    let tag = "<none>";
    try {
      const ref = parseReference(refName, { defaultTag: false });
      repository = familiarRepository(ref);
      tag = ref.tag ?? "<none>";
    } catch {
      // a name ferry did not write: shown as it is
    }
    const image: StoredImage = {
      ref: refName,
      repository,
      tag,
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
      size: 0,
      platforms: [],
      kind: annotations["vnd.ferry.kind"] === "os-image" ? "os-image" : "image",
      annotations,
    };
    try {
      const plan = await planImage(source, sourceImage, { platforms: "all" });
      image.size = plan.size;
      image.platforms = plan.platforms.map(formatPlatform);
      const firstConfig = plan.configBytes.values().next();
      if (!firstConfig.done) {
        const created = parseImageConfig(firstConfig.value, "config").created;
        if (created) image.created = created;
      }
    } catch (error) {
      image.error = isFerryError(error) ? error.message : String(error);
    }
    images.push(image);
  }
  return images;
}

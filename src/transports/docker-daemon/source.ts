/**
 * `docker-daemon:REF`: an image of a Docker engine, read through the Engine API.
 *
 * `GET /images/{name}/get` streams a `docker save` tar, and the engine writes it in file-name
 * order (dockerd 20.10 tars the folder it exported to): layer folders, configs, then
 * `manifest.json` and `repositories` LAST — what the archive holds is known only at its end,
 * and the layers come before it, each named by a v1 ID that only manifest.json ties to the
 * image. So the stream is kept as one temp file in ferry's cache folder
 * (`CACHE/docker-daemon/`), read in place by the docker-archive reader (random access, the
 * verified pump), and deleted when the last source reading it closes: the `docker-daemon:`
 * images of one save come from ONE export of all of them (`names=A&names=B`), so the layers
 * they share are exported once. Nothing of it is trusted: the image's
 * config digest must be the image ID the engine named before the export (`GET
 * /images/{name}/json`), and every blob is verified as it is copied (docs/engines.md).
 */

import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { defaultCacheDir } from "../../cache/blob-cache.js";
import { FerryError, fromSystemError, NotFoundError, UsageError } from "../../errors.js";
import type { Descriptor } from "../../types/descriptor.js";
import { parseManifest } from "../../types/manifest.js";
import { formatReference, parseReference } from "../../types/reference.js";
import { escapeControls } from "../../types/terminal-text.js";
import type { BlobReader, Source, SourceCapabilities, SourceImage } from "../../types/transport.js";
import { uniqueTempName } from "../../util/temp-name.js";
import { DockerArchiveSource } from "../docker-archive/source.js";
import type { EngineAddress } from "./engine-address.js";
import { EngineClient, unreachable } from "./engine-client.js";

/** What `GET /images/{name}/json` tells of an image (the fields ferry reads). */
interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
}

/** `sha256:HEX` or a bare hex image ID (12 to 64 digits): docker's ways to name an image by ID. */
const IMAGE_ID = /^(sha256:)?[0-9a-f]{12,64}$/;

export interface DockerDaemonOptions {
  /** Where the temp copy is kept (`CACHE/docker-daemon/`). */
  cacheDir?: string;
  onNote?: (text: string) => void;
  /** Every `docker-daemon:` image of the save, and where their one export is kept. */
  batch?: { refs: readonly string[]; shared: Map<string, unknown> };
}

/** One export of an engine, read by the sources of one save; removed when the last closes. */
interface SharedExport {
  key: string;
  file: string;
  archive: Promise<DockerArchiveSource>;
  users: number;
  shared: Map<string, unknown> | undefined;
}

async function release(share: SharedExport): Promise<void> {
  share.users -= 1;
  if (share.users > 0) return;
  share.shared?.delete(share.key);
  try {
    await (await share.archive.catch(() => undefined))?.close();
  } finally {
    await rm(share.file, { force: true });
  }
}

/** The name the image gets in the bundle: the reference as given, or its first tag for an ID. */
function bundleName(ref: string, inspect: ImageInspect, engine: string): string {
  if (!IMAGE_ID.test(ref)) return formatReference(parseReference(ref));
  const tag = inspect.RepoTags?.find((t) => t !== "<none>:<none>");
  if (!tag) {
    throw new UsageError(`docker-daemon:${ref}: the image has no name in ${engine}`, {
      hint: `name it first (docker tag ${ref} NAME:TAG) and save docker-daemon:NAME:TAG`,
    });
  }
  return formatReference(parseReference(tag));
}

/** Read the engine's export of `refs` into `file` (created new); its size. */
async function exportTo(
  client: EngineClient,
  refs: readonly string[],
  file: string,
): Promise<number> {
  const response = await client.download({
    method: "GET",
    path: `/images/get?${refs.map((ref) => `names=${encodeURIComponent(ref)}`).join("&")}`,
    what: `exporting ${refs.join(", ")}`,
  });
  let bytes = 0;
  response.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  const out = createWriteStream(file, { flags: "wx", mode: 0o600 });
  try {
    await pipeline(response, out);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The engine went away mid-export (the response was cut), or the disk filled up.
    if (code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE") {
      throw unreachable(client.address, error);
    }
    throw fromSystemError(error, file, "writing the engine's export to");
  }
  return bytes;
}

export class DockerDaemonSource implements Source {
  readonly label: string;
  readonly capabilities: SourceCapabilities;

  private constructor(
    private readonly archive: DockerArchiveSource,
    private readonly image: SourceImage,
    private readonly share: SharedExport,
  ) {
    this.label = image.origin;
    this.capabilities = {
      blobReader: (descriptor: Descriptor): Promise<BlobReader | undefined> =>
        this.archive.blobReader(descriptor),
    };
  }

  static async open(
    ref: string,
    address: EngineAddress,
    options: DockerDaemonOptions = {},
  ): Promise<DockerDaemonSource> {
    const client = await EngineClient.connect(address);
    try {
      return await DockerDaemonSource.read(client, ref, options);
    } finally {
      client.close();
    }
  }

  private static async read(
    client: EngineClient,
    ref: string,
    options: DockerDaemonOptions,
  ): Promise<DockerDaemonSource> {
    const engine = `the Docker engine at ${client.address.url}`;
    if (!IMAGE_ID.test(ref)) parseReference(ref);
    const inspect = await client.json<ImageInspect>({
      method: "GET",
      path: `/images/${encodeURIComponent(ref)}/json`,
      what: `looking up ${ref}`,
      missingOk: true,
    });
    if (!inspect) {
      throw new NotFoundError(`${engine} has no image ${escapeControls(ref)}`, {
        hint: "`docker images` lists what it has; pull, load or tag the image there first",
      });
    }
    const name = bundleName(ref, inspect, engine);
    const share = await DockerDaemonSource.exportOf(client, ref, options);
    try {
      const archive = await share.archive;
      const root = await DockerDaemonSource.imageWithId(archive, inspect.Id);
      if (!root) {
        throw new FerryError(
          "EENGINE",
          `${engine} exported ${escapeControls(ref)} without its image ${escapeControls(inspect.Id)} (was the name moved to another image meanwhile?)`,
          { hint: "save it again", details: { image: ref, id: inspect.Id } },
        );
      }
      const image = { name, descriptor: root, origin: `docker-daemon:${ref}` };
      return new DockerDaemonSource(archive, image, share);
    } catch (error) {
      await release(share).catch(() => {});
      throw error;
    }
  }

  /**
   * The export holding `ref`: the one this save made already, else a new one of every
   * `docker-daemon:` image of the save the engine has (those it has not fail on their own).
   */
  private static async exportOf(
    client: EngineClient,
    ref: string,
    options: DockerDaemonOptions,
  ): Promise<SharedExport> {
    const key = `docker-daemon:${client.address.url}`;
    const existing = options.batch?.shared.get(key) as SharedExport | undefined;
    if (existing) {
      existing.users += 1;
      return existing;
    }
    const refs = [ref];
    for (const other of new Set(options.batch?.refs ?? [])) {
      if (other === ref) continue;
      const found = await client.json<ImageInspect>({
        method: "GET",
        path: `/images/${encodeURIComponent(other)}/json`,
        what: `looking up ${other}`,
        missingOk: true,
      });
      if (found) refs.push(other);
    }
    const folder = path.join(options.cacheDir ?? defaultCacheDir(), "docker-daemon");
    await mkdir(folder, { recursive: true }).catch((error: unknown) => {
      throw fromSystemError(error, folder, "creating");
    });
    const file = uniqueTempName(path.join(folder, "export.tar"));
    options.onNote?.(
      `exporting ${refs.join(", ")} from the Docker engine at ${client.address.url} into a temp copy in ${folder} (the engine writes the image list last)`,
    );
    const archive = exportTo(client, refs, file).then(() => DockerArchiveSource.open(file));
    archive.catch(() => {});
    const share: SharedExport = { key, file, archive, users: 1, shared: options.batch?.shared };
    options.batch?.shared.set(key, share);
    try {
      await archive;
    } catch (error) {
      await release(share).catch(() => {});
      throw error;
    }
    return share;
  }

  /**
   * The archive's image whose identity is `id`: its config digest (the image ID of docker's
   * own image store), or its manifest digest (the ID under docker 25+'s containerd store).
   */
  private static async imageWithId(
    archive: DockerArchiveSource,
    id: string,
  ): Promise<Descriptor | undefined> {
    for (const image of await archive.images()) {
      if (image.descriptor.digest === id) return image.descriptor;
      const bytes = await archive.fetchManifest(image.descriptor);
      const parsed = parseManifest(bytes, image.descriptor.mediaType, `manifest of ${id}`);
      if (parsed.kind === "manifest" && parsed.manifest.config.digest === id) {
        return image.descriptor;
      }
    }
    return undefined;
  }

  async images(): Promise<SourceImage[]> {
    return [this.image];
  }

  fetchManifest(descriptor: Descriptor): Promise<Buffer> {
    return this.archive.fetchManifest(descriptor);
  }

  openBlob(descriptor: Descriptor): Promise<Readable> {
    return this.archive.openBlob(descriptor);
  }

  async close(): Promise<void> {
    await release(this.share);
  }
}

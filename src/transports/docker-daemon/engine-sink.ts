/**
 * `--to docker`: images loaded into a Docker engine through `POST /images/load`, the tar
 * `docker load` reads streamed straight into the request (no temp tar): blobs as the copy
 * verifies them, `manifest.json` (what docker acts on) only at commit, after every blob passed.
 * An abort cuts the request before that, and the engine loads nothing. Before anything is
 * sent, the engine's OS must be every image's (`GET /info`), and what each name points at is
 * noted (new, updated, unchanged); after the load, each image must be there under its name
 * with the expected image ID, its config digest (`GET /images/{name}/json`).
 */

import type { IncomingMessage } from "node:http";
import { FerryError, UsageError } from "../../errors.js";
import { parseManifest } from "../../types/manifest.js";
import { escapeControls } from "../../types/terminal-text.js";
import { dockerLoadFiles } from "../docker-archive/sink.js";
import { dockerRepoTag } from "../docker-repo-tag.js";
import type { CopySink, ImageOutcome, PlannedImage } from "../entry.js";
import { LayoutTarSink, type TarOutput } from "../tar/layout-tar-sink.js";
import type { EngineAddress } from "./engine-address.js";
import { EngineClient, type EngineRequest } from "./engine-client.js";

/** One image to load: its name there, and the image ID it must get. */
interface Expected {
  name: string;
  /** `repo:tag` as docker names it; none for an image named by digest only. */
  repoTag: string | undefined;
  /** The config digest: docker's image ID. */
  id: string;
  /** What the name (or the ID, untagged) pointed at before the load. */
  before: string | undefined;
}

const LOAD: EngineRequest = {
  method: "POST",
  path: "/images/load?quiet=1",
  headers: { "Content-Type": "application/x-tar" },
  what: "loading images",
};

/** The config digest of a single-platform image (docker takes one platform per image). */
function configDigest(image: PlannedImage): string {
  const root = image.manifests.find((m) => m.descriptor.digest === image.root.digest);
  if (!root) throw new FerryError("EINTERNAL", `${image.name}: its root manifest was not planned`);
  const parsed = parseManifest(root.bytes, root.descriptor.mediaType, `manifest of ${image.name}`);
  if (parsed.kind !== "manifest") {
    throw new UsageError(
      `${image.name} is a multi-platform index; docker load takes one platform`,
      {
        hint: "choose one with --platform os/arch",
      },
    );
  }
  return parsed.manifest.config.digest;
}

/**
 * The engine's JSON-lines answer to a load: the names and IDs it says it loaded; an error line
 * (`{"error": ...}`) is the engine refusing the tar.
 */
export function parseLoadAnswer(body: Buffer, engine: string): { loaded: Set<string> } {
  const loaded = new Set<string>();
  for (const line of body.toString("utf8").split("\n")) {
    if (!line.trim()) continue;
    let message: { stream?: unknown; error?: unknown; errorDetail?: { message?: unknown } };
    try {
      message = JSON.parse(line);
    } catch {
      throw new FerryError("EENGINE", `${engine} answered the load with a line that is not JSON`, {
        details: { line: escapeControls(line.slice(0, 200)) },
      });
    }
    const error = message.errorDetail?.message ?? message.error;
    if (typeof error === "string") {
      throw new FerryError("EENGINE", `${engine} refused the images: ${escapeControls(error)}`, {
        hint: "nothing it refused was loaded; the message is the engine's",
      });
    }
    if (typeof message.stream !== "string") continue;
    for (const text of message.stream.split("\n")) {
      const name = /^Loaded image(?: ID)?: (.+)$/.exec(text.trim())?.[1];
      if (name) loaded.add(name);
    }
  }
  return { loaded };
}

export class DockerEngineSink {
  /** Check the images against the engine and note what each name holds; then start the load. */
  static async open(address: EngineAddress, images: readonly PlannedImage[]): Promise<CopySink> {
    const client = await EngineClient.connect(address);
    try {
      const engine = `the Docker engine at ${address.url}`;
      const info = await client.json<{ OSType?: string }>({
        method: "GET",
        path: "/info",
        what: "asking what it runs",
      });
      const os = info.OSType;
      for (const image of images) {
        const other = image.platforms.find((p) => os && p.os !== os);
        if (other) {
          throw new UsageError(
            `${image.name} is a ${other.os} image; ${engine} runs ${os} containers`,
            {
              hint:
                os === "linux"
                  ? "load it into a Windows container host's engine (Docker Desktop: switch to Windows containers), or choose a linux platform with --platform"
                  : "load it into a Linux engine, or choose a windows platform with --platform",
              details: { image: image.name, imageOs: other.os, engineOs: os },
            },
          );
        }
      }
      const expected: Expected[] = [];
      for (const image of images) {
        const id = configDigest(image);
        const repoTag = dockerRepoTag(image.name);
        const before = await client.json<{ Id: string }>({
          method: "GET",
          path: `/images/${encodeURIComponent(repoTag ?? id)}/json`,
          what: `looking up ${repoTag ?? id}`,
          missingOk: true,
        });
        expected.push({ name: image.name, repoTag, id, before: before?.Id });
      }
      return new DockerEngineSink(client, engine, expected).sink;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  readonly sink: CopySink;
  private results: ImageOutcome[] | undefined;

  private constructor(
    private readonly client: EngineClient,
    private readonly engine: string,
    private readonly expected: Expected[],
  ) {
    const upload = client.upload(LOAD);
    const output: TarOutput = {
      stream: upload.body,
      complete: async () => {
        try {
          this.results = await this.finish(await upload.response);
        } finally {
          client.close();
        }
      },
      discard: async () => {
        // Cut the request: the engine sees a tar without its image list and loads nothing.
        upload.body.destroy();
        client.close();
      },
      explain: async (error) => {
        // A blob that failed its check is the copy's own error; a broken request is the
        // engine's doing: its answer (or why it could not answer) says what happened.
        if (error instanceof FerryError) return error;
        try {
          await this.client.answer(await upload.response, LOAD);
        } catch (answer) {
          return answer;
        }
        return error;
      },
    };
    const tar = new LayoutTarSink(`docker engine ${client.address.url}`, output, {
      extraFiles: dockerLoadFiles,
    });
    this.sink = Object.assign(tar, { outcomes: () => this.results ?? [] });
  }

  /** The engine's answer read, then every image checked where the engine keeps it. */
  private async finish(response: IncomingMessage): Promise<ImageOutcome[]> {
    const { loaded } = parseLoadAnswer(await this.client.answer(response, LOAD), this.engine);
    const outcomes: ImageOutcome[] = [];
    for (const image of this.expected) {
      const said = image.repoTag ? loaded.has(image.repoTag) : loaded.has(image.id);
      const named = image.repoTag ?? image.id;
      const there = await this.client.json<{ Id: string }>({
        method: "GET",
        path: `/images/${encodeURIComponent(named)}/json`,
        what: `checking ${named}`,
        missingOk: true,
      });
      if (!said || there?.Id !== image.id) {
        throw new FerryError(
          "EENGINE",
          `${this.engine} does not hold ${escapeControls(named)} as image ${image.id} after the load (${there ? `it names ${escapeControls(there.Id)}` : "no such image"}${said ? "" : "; its answer did not list it"})`,
          {
            hint: "check the engine (`docker images`, its log) and load the bundle again",
            details: { image: image.name, expected: image.id, found: there?.Id ?? null },
          },
        );
      }
      const status =
        image.before === undefined ? "new" : image.before === image.id ? "unchanged" : "updated";
      outcomes.push({
        name: image.name,
        status,
        id: image.id,
        ...(status === "updated" && image.before ? { previous: image.before } : {}),
      });
    }
    return outcomes;
  }
}

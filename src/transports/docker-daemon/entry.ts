/**
 * The Docker engine in the transport table: `docker-daemon:REF` as a source (an image the
 * engine holds, read through its API) and `docker[:HOST]` as a destination (`POST
 * /images/load`, each image checked there afterwards). The engine is `--docker-host`, else
 * `--to docker:HOST`, else `DOCKER_HOST`, else the platform's default socket or pipe
 * (./engine-address.ts; docs/engines.md).
 */

import { UsageError } from "../../errors.js";
import { escapeControls } from "../../types/terminal-text.js";
import { dockerRepoTag } from "../docker-repo-tag.js";
import type { TransportEntry, TransportOption } from "../entry.js";

export interface DockerDaemonSpec {
  transport: "docker";
  /** The image as the engine names it: `app:1.0`, `team/app@sha256:...`, an image ID. */
  ref: string;
}

export interface DockerDestination {
  transport: "docker";
  /** The engine's address when given (`--docker-host`, `--to docker:HOST`). */
  host?: string;
}

const dockerHostOption: TransportOption = {
  flags: "--docker-host <url>",
  key: "dockerHost",
  help: "the Docker engine for docker-daemon: sources and --to docker: unix:///PATH, npipe:////./pipe/NAME or tcp://HOST:PORT (default: $DOCKER_HOST, else the local engine's socket or pipe)",
};

/** The engine's address as reports name it (where `DOCKER_HOST` or the default applies). */
function engineUrl(host: string | undefined): string {
  return (
    host ||
    process.env.DOCKER_HOST ||
    (process.platform === "win32"
      ? "npipe:////./pipe/docker_engine"
      : "unix:///var/run/docker.sock")
  );
}

async function addressOf(host: string | undefined) {
  const { engineAddress } = await import("./engine-address.js");
  return engineAddress(host);
}

export const dockerTransport: TransportEntry<DockerDaemonSpec, DockerDestination> = {
  name: "docker",
  summary: "a Docker engine, through its API (local socket or pipe, or DOCKER_HOST)",
  source: {
    forms: ["docker-daemon:REF"],
    prefixes: ["docker-daemon:"],
    parse(rest, text) {
      if (!rest) {
        throw new UsageError(`${escapeControls(text)}: name the image, e.g. docker-daemon:app:1.0`);
      }
      return { transport: "docker", ref: rest };
    },
    platforms: "chosen",
    options: [dockerHostOption],
    async open(spec, context) {
      const [{ DockerDaemonSource }, address] = await Promise.all([
        import("./source.js"),
        addressOf(context.settings?.dockerHost),
      ]);
      // The other docker-daemon: images of this save: one export for all of them.
      const batch = context.batch && {
        refs: context.batch.specs
          .filter((other): other is DockerDaemonSpec => other.transport === "docker")
          .map((other) => other.ref),
        shared: context.batch.shared,
      };
      return DockerDaemonSource.open(spec.ref, address, {
        ...(context.cacheDir ? { cacheDir: context.cacheDir } : {}),
        ...(context.onNote ? { onNote: context.onNote } : {}),
        ...(batch ? { batch } : {}),
      });
    },
  },
  destination: {
    forms: ["docker[:HOST]"],
    help: "load into a Docker engine (HOST: as --docker-host; one platform per image: --platform)",
    options: [dockerHostOption],
    parse(rest, text, settings) {
      const flag = settings.dockerHost;
      if (rest && flag && rest !== flag) {
        throw new UsageError(`${escapeControls(text)} names another engine than --docker-host`, {
          hint: "name the engine once",
        });
      }
      const host = rest || flag;
      return host ? { transport: "docker", host } : { transport: "docker" };
    },
    copy: {
      location: (spec) => `the Docker engine at ${engineUrl(spec.host)}`,
      onePlatform: "docker load takes one platform",
      async defaultPlatform(spec) {
        const [{ enginePlatform }, address] = await Promise.all([
          import("./engine-platform.js"),
          addressOf(spec.host),
        ]);
        return enginePlatform(address);
      },
      containerImagesOnly: true,
      nameOf: dockerRepoTag,
      nameHeading: "DOCKER NAME",
      async openSink(spec, images) {
        const [{ DockerEngineSink }, address] = await Promise.all([
          import("./engine-sink.js"),
          addressOf(spec.host),
        ]);
        return DockerEngineSink.open(address, images);
      },
    },
  },
};

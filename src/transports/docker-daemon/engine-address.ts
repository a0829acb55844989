/**
 * Where the Docker engine listens, from `--docker-host` (or `--to docker:HOST`), else
 * `DOCKER_HOST`, else the platform's default, as the docker CLI reads them:
 *
 * - `unix:///var/run/docker.sock`: a unix socket (the default on Linux and macOS);
 * - `npipe:////./pipe/docker_engine`: a Windows named pipe (the default on Windows), reached
 *   as the path `\\.\pipe\docker_engine` (Node's `net.connect` takes pipe paths as sockets);
 * - `tcp://HOST[:PORT]`: plain HTTP on port 2375, or TLS on 2376 when `DOCKER_TLS_VERIFY` is
 *   set, checked against `DOCKER_CERT_PATH/ca.pem` with the client certificate
 *   `cert.pem`/`key.pem` there (default folder `~/.docker`).
 *
 * Pure: the environment and platform are arguments, so every form is tested on every OS.
 */

import { UsageError } from "../../errors.js";
import { escapeControls } from "../../types/terminal-text.js";

export type EngineAddress =
  | { kind: "unix"; path: string; url: string }
  | { kind: "npipe"; path: string; url: string }
  | {
      kind: "tcp";
      host: string;
      port: number;
      /** TLS with the engine's certificate checked against `ca.pem`, and a client certificate. */
      tls?: { certPath: string };
      url: string;
    };

export const DEFAULT_UNIX_HOST = "unix:///var/run/docker.sock";
export const DEFAULT_WINDOWS_HOST = "npipe:////./pipe/docker_engine";

/** `\\.\pipe\NAME` or `\\SERVER\pipe\NAME`: what Windows opens as a named pipe. */
const PIPE_PATH = /^\\\\[^\\/]+\\pipe\\[^\\/]+$/i;

/**
 * `npipe:////./pipe/docker_engine` (docker's spelling: four slashes, the path written with
 * forward slashes) to `\\.\pipe\docker_engine`; also `npipe://./pipe/NAME` and backslashes.
 */
export function namedPipePath(url: string): string {
  const rest = url.slice("npipe:".length).replaceAll("/", "\\");
  // `\\\\.\\pipe\\x` (four slashes) or `\\.\\pipe\\x` (two: the host `.` right after them).
  const pipePath = rest.startsWith("\\\\\\\\") ? rest.slice(2) : rest;
  if (!PIPE_PATH.test(pipePath)) {
    throw new UsageError(`${escapeControls(url)}: not a named pipe address`, {
      hint: `write it as ${DEFAULT_WINDOWS_HOST} (the pipe \\\\.\\pipe\\docker_engine)`,
    });
  }
  return pipePath;
}

function tcpAddress(
  url: string,
  env: NodeJS.ProcessEnv,
  home: string,
  pathSeparator: string,
): EngineAddress {
  let parsed: URL;
  try {
    parsed = new URL(url.replace(/^tcp:/, "http:"));
  } catch {
    throw new UsageError(`${escapeControls(url)}: not a valid tcp://HOST[:PORT] address`);
  }
  if ((parsed.pathname !== "/" && parsed.pathname !== "") || parsed.search || parsed.username) {
    throw new UsageError(`${escapeControls(url)}: write a tcp address as tcp://HOST[:PORT]`);
  }
  const tls = Boolean(env.DOCKER_TLS_VERIFY);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = parsed.port ? Number(parsed.port) : tls ? 2376 : 2375;
  const certPath = env.DOCKER_CERT_PATH || [home, ".docker"].join(pathSeparator);
  return {
    kind: "tcp",
    host,
    port,
    ...(tls ? { tls: { certPath } } : {}),
    url: `tcp://${parsed.hostname}:${port}`,
  };
}

/**
 * The engine address: `given` (the flag or `--to docker:HOST`), else `DOCKER_HOST`, else the
 * default of `platform`. A malformed or unsupported address is a usage error naming it.
 */
export function engineAddress(
  given: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home = env.HOME ?? env.USERPROFILE ?? "",
): EngineAddress {
  const url =
    given || env.DOCKER_HOST || (platform === "win32" ? DEFAULT_WINDOWS_HOST : DEFAULT_UNIX_HOST);
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case "unix": {
      const socket = url.slice("unix://".length);
      if (!socket) throw new UsageError(`${escapeControls(url)}: the unix socket path is missing`);
      return { kind: "unix", path: socket, url };
    }
    case "npipe":
      return { kind: "npipe", path: namedPipePath(url), url };
    case "tcp":
    case "http":
      return tcpAddress(url, env, home, platform === "win32" ? "\\" : "/");
    case "ssh":
      throw new UsageError(`${escapeControls(url)}: ssh:// engine addresses are not supported`, {
        hint: "forward the engine's socket (ssh -L /tmp/docker.sock:/var/run/docker.sock HOST) and use --docker-host unix:///tmp/docker.sock",
      });
    default:
      throw new UsageError(`${escapeControls(url)}: not a Docker engine address`, {
        hint: `use unix:///PATH, npipe:////./pipe/NAME or tcp://HOST:PORT (default ${platform === "win32" ? DEFAULT_WINDOWS_HOST : DEFAULT_UNIX_HOST})`,
      });
  }
}

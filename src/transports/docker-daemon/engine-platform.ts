/**
 * The platform a Docker engine runs (`GET /info`: `OSType`, `Architecture`): what `--to docker`
 * gives docker of a multi-platform image when `--platform` names none, as `docker pull` picks
 * the engine's platform, not the client's (a Windows engine reached over tcp:// from Linux).
 */

import { type PlatformSpec, parsePlatform } from "../../types/platform.js";
import type { EngineAddress } from "./engine-address.js";
import { EngineClient } from "./engine-client.js";

/** `uname -m` spellings the engine reports that platform strings do not take as they are. */
const MACHINE_ARCHITECTURES: Record<string, string> = {
  armv7l: "arm/v7",
  armv6l: "arm/v6",
  ppc64le: "ppc64le",
  s390x: "s390x",
};

/** The engine's OS and architecture as a platform; undefined when it does not say. */
export function platformOfInfo(info: {
  OSType?: unknown;
  Architecture?: unknown;
}): PlatformSpec | undefined {
  if (typeof info.OSType !== "string" || typeof info.Architecture !== "string") return undefined;
  const architecture = MACHINE_ARCHITECTURES[info.Architecture] ?? info.Architecture;
  try {
    return parsePlatform(`${info.OSType.toLowerCase()}/${architecture.toLowerCase()}`);
  } catch {
    return undefined;
  }
}

export async function enginePlatform(address: EngineAddress): Promise<PlatformSpec | undefined> {
  const client = await EngineClient.connect(address);
  try {
    const info = await client.json<{ OSType?: unknown; Architecture?: unknown }>({
      method: "GET",
      path: "/info",
      what: "asking what it runs",
    });
    return platformOfInfo(info);
  } finally {
    client.close();
  }
}

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, Option } from "commander";
import { UsageError } from "../errors.js";
import type { TransportOption } from "../transports/entry.js";
import { type PlatformSelector, parsePlatform } from "../types/platform.js";

/** ferry's version, from its package.json. */
export function toolVersion(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const pkg = JSON.parse(readFileSync(path.join(here, "..", "..", "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function toolName(): string {
  return `ferry ${toolVersion()}`;
}

/** `--platform` values (repeatable, comma lists allowed) to a selector; none means `fallback`. */
export function platformSelector(
  values: string[] | undefined,
  fallback: PlatformSelector,
): PlatformSelector {
  const list = (values ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
  if (list.length === 0) return fallback;
  if (list.includes("all")) {
    if (list.length > 1)
      throw new UsageError("--platform all cannot be combined with other platforms");
    return "all";
  }
  return list.map(parsePlatform);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UsageError(`${value} is not a whole number from 1 to 64`);
  return n;
}

/** `--store DIR`, as the commands that read or change the store take it. */
export function storeOption(): Option {
  return new Option("--store <dir>", "the store (default: $FERRY_STORE or the per-OS default)");
}

/** Add the options transports own (`--docker-host`: ../transports/table.ts) to a command. */
export function addTransportOptions(
  command: Command,
  options: readonly TransportOption[],
): Command {
  for (const option of options) command.option(option.flags, option.help);
  return command;
}

/** `--trust KEY` (repeatable) and `--trust-dir DIR`: a signature by one of these keys is required. */
export function addTrustOptions(command: Command): Command {
  return command
    .option("--trust <key.pub>", "require a signature by this public key (repeatable)", collect)
    .option(
      "--trust-dir <dir>",
      "require a signature by a key in this folder (*.pub); also $FERRY_TRUST_DIR",
    );
}

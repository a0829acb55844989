/**
 * The destination of a command: `--to KIND[:WHERE]` (the transport table's grammar), or one of
 * the flags that named a destination before `--to` existed (`--store DIR`, `--to-registry HOST`,
 * `--docker-archive FILE`, `-o FILE`), which mean exactly `--to KIND:VALUE`.
 */

import { UsageError } from "../errors.js";
import { hostPlatform } from "../ops/registry-options.js";
import type { TransportSettings } from "../transports/entry.js";
import {
  type DestinationSpec,
  destinationForms,
  destinationRole,
  listForms,
  parseDestination,
} from "../transports/table.js";
import type { PlatformSelector } from "../types/platform.js";

/** One way the command line may name the destination. */
export interface DestinationFlag {
  /** `--to`, or the older flag (`--store`). */
  flag: string;
  value: string | undefined;
  /** The kind an older flag means (`store`); none for `--to`. */
  kind?: string;
}

export interface ChosenDestination {
  spec: DestinationSpec;
  /** How the user named it, for messages: `--to-registry`, `--to registry:HOST`. */
  label: string;
}

/**
 * The one destination the flags name, parsed; when none does, `fallback` (`store`), or the error
 * to throw. Two given at once are a usage error; so is a kind the command does not take (`kinds`),
 * and a destination option (`settings`: `--namespace`) the chosen destination does not take.
 */
export function chooseDestination(
  flags: DestinationFlag[],
  kinds: readonly string[] | undefined,
  fallback: string | UsageError,
  settings?: TransportSettings,
): ChosenDestination;
export function chooseDestination(
  flags: DestinationFlag[],
  kinds: readonly string[] | undefined,
): ChosenDestination | undefined;
export function chooseDestination(
  flags: DestinationFlag[],
  kinds: readonly string[] | undefined,
  fallback?: string | UsageError,
  settings: TransportSettings = {},
): ChosenDestination | undefined {
  const given = flags.filter((f) => f.value !== undefined);
  const [first, second] = given;
  if (first && second) {
    throw new UsageError(`${second.flag} cannot be combined with ${first.flag}`, {
      hint: `name one destination: --to ${listForms(destinationForms(kinds))}`,
    });
  }
  const options = { ...(kinds ? { kinds } : {}), settings };
  if (!first) {
    if (fallback instanceof UsageError) throw fallback;
    return fallback === undefined
      ? undefined
      : { spec: parseDestination(fallback, options), label: `--to ${fallback}` };
  }
  const value = first.value as string;
  if (!first.kind) {
    return { spec: parseDestination(value, options), label: `--to ${value}` };
  }
  return {
    spec: parseDestination(`${first.kind}:${value}`, {
      ...options,
      label: `${first.flag} ${value}`,
    }),
    label: first.flag,
  };
}

/**
 * The platforms an image gets when `--platform` names none: one for a destination that takes
 * one (the one it runs, else this machine's), else all. The destination is asked only then.
 */
export async function defaultPlatforms(
  destination: DestinationSpec,
  given: string[] | undefined,
): Promise<PlatformSelector> {
  const copy = destinationRole(destination).copy;
  if (!copy?.onePlatform) return "all";
  if (given !== undefined) return [hostPlatform()];
  return [(await copy.defaultPlatform?.(destination)) ?? hostPlatform()];
}

import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { CosignPolicy } from "../ops/cosign-check.js";
import { loadCosignKey } from "../trust/cosign-keys.js";
import { collect } from "./context.js";

export interface CosignFlags {
  cosignKey?: string[];
  requireSigned?: boolean;
}

/** `--cosign-key KEY.pub` (repeatable) and `--require-signed`, for verify and load. */
export function addCosignOptions(command: Command): Command {
  return command
    .option(
      "--cosign-key <key.pub>",
      "check the images' cosign signatures against this public key (ECDSA P-256 or Ed25519 PEM, as cosign.pub; repeatable); keyless signatures cannot be checked offline",
      collect,
    )
    .option(
      "--require-signed",
      "refuse (exit 6, nothing written) unless every image carries a cosign signature by one of the --cosign-key keys over its digest",
    );
}

/** The policy the flags ask for (undefined: no --cosign-key). */
export async function cosignPolicy(flags: CosignFlags): Promise<CosignPolicy | undefined> {
  const files = flags.cosignKey ?? [];
  if (files.length === 0) {
    if (flags.requireSigned) {
      throw new UsageError("--require-signed needs the keys to check: --cosign-key KEY.pub", {
        hint: "e.g. --cosign-key cosign.pub --require-signed",
      });
    }
    return undefined;
  }
  const keys = [];
  for (const file of files) keys.push(await loadCosignKey(file));
  return { keys, requireSigned: flags.requireSigned === true };
}

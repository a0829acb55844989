import type { Command } from "commander";
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

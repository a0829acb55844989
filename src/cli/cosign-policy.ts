import { UsageError } from "../errors.js";
import type { CosignPolicy } from "../ops/cosign-check.js";
import { loadCosignKey } from "../trust/cosign-keys.js";
import type { CosignFlags } from "./cosign-options.js";

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

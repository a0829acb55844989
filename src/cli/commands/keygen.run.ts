import { writeKeyPair } from "../../trust/key-files.js";
import { generateSigningKeyPair } from "../../trust/keys.js";
import { createOutput } from "../output.js";
import type { KeygenFlags } from "./keygen.js";

/** `ferry keygen -o NAME` (loaded when the command runs: see ./keygen.ts). */
export async function runKeygen(flags: KeygenFlags): Promise<void> {
  const out = createOutput(flags);
  const pair = generateSigningKeyPair();
  const { protection } = await writeKeyPair(flags.output, `${flags.output}.pub`, pair);
  out.result({ privateKey: flags.output, publicKey: `${flags.output}.pub`, keyId: pair.id }, () =>
    [
      `private key: ${flags.output} (keep it on the connected side; ${protection})`,
      `public key:  ${flags.output}.pub (copy it to the offline hosts' trust folder)`,
      `key id:      ${pair.id}`,
    ].join("\n"),
  );
}

import { open } from "node:fs/promises";
import { fromSystemError, UsageError } from "../../errors.js";
import { generateSigningKeyPair } from "../../trust/keys.js";
import { createOutput } from "../output.js";
import type { KeygenFlags } from "./keygen.js";

async function writeNew(file: string, text: string, mode: number): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, "wx", mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new UsageError(`${file} already exists; ferry will not overwrite a key`, {
        hint: "choose another name, or delete the old key first",
      });
    }
    throw fromSystemError(error, file, "writing");
  }
  try {
    await handle.writeFile(text);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `ferry keygen -o NAME` (loaded when the command runs: see ./keygen.ts). */
export async function runKeygen(flags: KeygenFlags): Promise<void> {
  const out = createOutput(flags);
  const pair = generateSigningKeyPair();
  await writeNew(`${flags.output}.pub`, pair.publicPem, 0o644);
  await writeNew(flags.output, pair.privatePem, 0o600);
  out.result({ privateKey: flags.output, publicKey: `${flags.output}.pub`, keyId: pair.id }, () =>
    [
      `private key: ${flags.output} (keep it on the connected side; mode 0600)`,
      `public key:  ${flags.output}.pub (copy it to the offline hosts' trust folder)`,
      `key id:      ${pair.id}`,
    ].join("\n"),
  );
}

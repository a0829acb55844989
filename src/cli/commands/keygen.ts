import { open } from "node:fs/promises";
import type { Command } from "commander";
import { fromSystemError, UsageError } from "../../errors.js";
import { generateSigningKeyPair } from "../../trust/keys.js";
import { createOutput } from "../output.js";

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

export function registerKeygen(program: Command): void {
  program
    .command("keygen")
    .description("make an Ed25519 signing key pair: NAME (private, mode 0600) and NAME.pub")
    .requiredOption("-o, --output <name>", "the private key file; the public key goes to NAME.pub")
    .option("--json", "print JSON")
    .action(async (flags: { output: string; json?: boolean }) => {
      const out = createOutput(flags);
      const pair = generateSigningKeyPair();
      await writeNew(`${flags.output}.pub`, pair.publicPem, 0o644);
      await writeNew(flags.output, pair.privatePem, 0o600);
      out.result(
        { privateKey: flags.output, publicKey: `${flags.output}.pub`, keyId: pair.id },
        () =>
          [
            `private key: ${flags.output} (keep it on the connected side; mode 0600)`,
            `public key:  ${flags.output}.pub (copy it to the offline hosts' trust folder)`,
            `key id:      ${pair.id}`,
          ].join("\n"),
      );
    });
}

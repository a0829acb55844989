import type { Command } from "commander";

export interface KeygenFlags {
  output: string;
  json?: boolean;
}

export function registerKeygen(program: Command): void {
  program
    .command("keygen")
    .description(
      "make an Ed25519 signing key pair: NAME (private: mode 0600, on Windows an ACL for you alone) and NAME.pub",
    )
    .requiredOption("-o, --output <name>", "the private key file; the public key goes to NAME.pub")
    .option("--json", "print JSON")
    .action(async (flags: KeygenFlags) => {
      const { runKeygen } = await import("./keygen.run.js");
      await runKeygen(flags);
    });
}

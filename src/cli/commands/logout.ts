import type { Command } from "commander";

export interface LogoutFlags {
  authfile?: string;
  json?: boolean;
}

export function registerLogout(program: Command): void {
  program
    .command("logout")
    .description("forget the credentials kept for a registry")
    .argument("[registry]", "registry host (default: docker.io)")
    .option(
      "--authfile <file>",
      "auth file (default: $FERRY_AUTH_FILE or ~/.config/ferry/auth.json)",
    )
    .option("--json", "print a JSON summary")
    .action(async (registryText: string | undefined, flags: LogoutFlags) => {
      const { runLogout } = await import("./logout.run.js");
      await runLogout(registryText, flags);
    });
}

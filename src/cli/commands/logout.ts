import type { Command } from "commander";
import { logout, registryArgument } from "../../ops/registry-login.js";
import { createOutput } from "../output.js";

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
    .action(
      async (registryText: string | undefined, flags: { authfile?: string; json?: boolean }) => {
        const out = createOutput(flags);
        const registry = registryArgument(registryText);
        const report = await logout({
          registry,
          ...(flags.authfile ? { authFile: flags.authfile } : {}),
        });
        out.result(report, () =>
          report.removedFrom.length > 0
            ? `removed the credentials for ${registry} from ${report.removedFrom.join(" and ")}`
            : `not logged in to ${registry}`,
        );
      },
    );
}

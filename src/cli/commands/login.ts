import type { Command } from "commander";
import type { RegistryFlags } from "../../ops/registry-options.js";
import { collect } from "../context.js";

/** The registry flags login takes (it neither downloads nor caches), and `--json`. */
export type LoginFlags = Pick<
  RegistryFlags,
  "username" | "passwordStdin" | "authfile" | "insecureRegistry" | "caCert" | "proxy"
> & { json?: boolean };

export function registerLogin(program: Command): void {
  program
    .command("login")
    .description(
      "check credentials against a registry and keep them in a docker-format auth file (0600)",
    )
    .argument("[registry]", "registry host (default: docker.io)")
    .option("-u, --username <user>", "user name (asked for on a terminal)")
    .option("--password-stdin", "read the password from stdin (asked for, unechoed, on a terminal)")
    .option(
      "--authfile <file>",
      "auth file to write (default: $FERRY_AUTH_FILE or ~/.config/ferry/auth.json)",
    )
    .option(
      "--insecure-registry <host>",
      "allow plain http and unverified TLS for this registry (repeatable)",
      collect,
    )
    .option("--ca-cert <file>", "also trust this CA certificate (PEM) (repeatable)", collect)
    .option(
      "--proxy <url>",
      'HTTP proxy, loopback hosts too (default: $HTTPS_PROXY / $HTTP_PROXY, minus $NO_PROXY; "" for none)',
    )
    .option("--json", "print a JSON summary")
    .action(async (registryText: string | undefined, flags: LoginFlags) => {
      const { runLogin } = await import("./login.run.js");
      await runLogin(registryText, flags);
    });
}

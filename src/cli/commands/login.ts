import { createInterface } from "node:readline";
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { login, registryArgument } from "../../ops/registry-login.js";
import { clientOptionsFromFlags, readPassword } from "../../ops/registry-options.js";
import { collect, toolName } from "../context.js";
import { createOutput } from "../output.js";

interface LoginFlags {
  username?: string;
  passwordStdin?: boolean;
  authfile?: string;
  insecureRegistry?: string[];
  caCert?: string[];
  json?: boolean;
}

/** Ask on the terminal; with `hidden`, nothing typed is echoed. */
function ask(question: string, hidden: boolean): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      const muted = rl as unknown as { _writeToOutput: (text: string) => void };
      muted._writeToOutput = (text: string) => {
        if (text.includes(question)) process.stderr.write(question);
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write("\n");
      resolve(answer);
    });
  });
}

async function askCredentials(flags: LoginFlags): Promise<{ username: string; password: string }> {
  const interactive = Boolean(process.stdin.isTTY);
  let username = flags.username;
  if (username === undefined) {
    if (!interactive || flags.passwordStdin) throw new UsageError("login needs --username USER");
    username = (await ask("Username: ", false)).trim();
  }
  let password: string;
  if (flags.passwordStdin) password = await readPassword(process.stdin);
  else if (interactive) password = await ask("Password: ", true);
  else throw new UsageError("login needs --password-stdin when stdin is not a terminal");
  if (!username || !password) throw new UsageError("login needs a user name and a password");
  return { username, password };
}

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
    .option("--json", "print a JSON summary")
    .action(async (registryText: string | undefined, flags: LoginFlags) => {
      const out = createOutput(flags);
      const registry = registryArgument(registryText);
      const { username, password } = await askCredentials(flags);
      const { credentials: _none, ...client } = await clientOptionsFromFlags(
        {
          ...(flags.insecureRegistry ? { insecureRegistry: flags.insecureRegistry } : {}),
          ...(flags.caCert ? { caCert: flags.caCert } : {}),
        },
        { userAgent: toolName() },
      );
      const report = await login({
        registry,
        username,
        password,
        client,
        ...(flags.authfile ? { authFile: flags.authfile } : {}),
      });
      out.result(report, () =>
        report.scheme === "none"
          ? `${registry} asks for no authentication; credentials for ${username} kept in ${report.storedIn}`
          : `login succeeded: ${username} at ${registry}, kept in ${report.storedIn}`,
      );
    });
}

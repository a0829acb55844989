import { createInterface } from "node:readline";
import { UsageError } from "../../errors.js";
import { login, registryArgument } from "../../ops/registry-login.js";
import { clientOptionsFromFlags, readPassword } from "../../ops/registry-options.js";
import { toolName } from "../context.js";
import { createOutput } from "../output.js";
import type { LoginFlags } from "./login.js";

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

/** `ferry login [REGISTRY]` (loaded when the command runs: see ./login.ts). */
export async function runLogin(registryText: string | undefined, flags: LoginFlags): Promise<void> {
  const out = createOutput(flags);
  const registry = registryArgument(registryText);
  const { username, password } = await askCredentials(flags);
  const { credentials: _none, ...client } = await clientOptionsFromFlags(
    {
      ...(flags.insecureRegistry ? { insecureRegistry: flags.insecureRegistry } : {}),
      ...(flags.caCert ? { caCert: flags.caCert } : {}),
      ...(flags.proxy !== undefined ? { proxy: flags.proxy } : {}),
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
}

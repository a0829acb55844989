import { spawn } from "node:child_process";
import { FerryError } from "../../errors.js";

/** What a `docker-credential-*` helper returns for `get`. */
export interface HelperCredential {
  ServerURL?: string;
  Username: string;
  Secret: string;
}

export interface HelperOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

const NOT_FOUND = /credentials not found/i;

function helperError(helper: string, action: string, detail: string): FerryError {
  return new FerryError(
    "EUNAUTHORIZED",
    `credential helper docker-credential-${helper} failed to ${action}: ${detail}`,
    { hint: `check that docker-credential-${helper} is installed and works, or log in again` },
  );
}

/**
 * Run `docker-credential-<helper> <action>` with `input` on stdin (the docker credential
 * helper protocol). Resolves stdout; rejects without ever echoing the input.
 */
function runHelper(
  helper: string,
  action: "get" | "store" | "erase",
  input: string,
  options: HelperOptions,
): Promise<{ stdout: string; notFound: boolean }> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) {
    return Promise.reject(helperError(helper, action, "the helper name is not valid"));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, [action], {
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 30_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      reject(helperError(helper, action, code === "ENOENT" ? "not found on PATH" : error.message));
    });
    child.on("close", (code) => {
      const message = `${stdout}\n${stderr}`.trim();
      if (code === 0) resolve({ stdout, notFound: false });
      else if (NOT_FOUND.test(message)) resolve({ stdout: "", notFound: true });
      else reject(helperError(helper, action, firstLine(stderr || stdout) || `exit code ${code}`));
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

function firstLine(text: string): string {
  return (text.trim().split("\n")[0] ?? "").slice(0, 200);
}

/** Ask a helper for a server's credentials; undefined when it has none. */
export async function helperGet(
  helper: string,
  serverUrl: string,
  options: HelperOptions = {},
): Promise<HelperCredential | undefined> {
  const { stdout, notFound } = await runHelper(helper, "get", serverUrl, options);
  if (notFound) return undefined;
  try {
    const parsed = JSON.parse(stdout) as HelperCredential;
    if (typeof parsed.Secret !== "string" || typeof parsed.Username !== "string") return undefined;
    return parsed;
  } catch {
    throw helperError(helper, "get", "it printed something that is not JSON");
  }
}

/** Store credentials with a helper. */
export async function helperStore(
  helper: string,
  credential: Required<HelperCredential>,
  options: HelperOptions = {},
): Promise<void> {
  await runHelper(helper, "store", JSON.stringify(credential), options);
}

/** Erase a server's credentials from a helper (no error when it had none). */
export async function helperErase(
  helper: string,
  serverUrl: string,
  options: HelperOptions = {},
): Promise<void> {
  await runHelper(helper, "erase", serverUrl, options);
}

/**
 * Writing a key pair's files. The public key is for everyone (0644). The private key must be
 * readable by its owner alone: on Linux and macOS its mode says so (0600, set exactly, whatever
 * the umask). On Windows a file's mode means nothing (Node maps it to the read-only flag), so
 * after writing it ferry runs `icacls FILE /inheritance:r /grant:r DOMAIN\user:F`: the
 * permissions inherited from the folder (on C:\ProgramData, "Users: read") are dropped and only
 * the current user may read it. If that fails, the key is removed again and the error says
 * where to keep one instead: ferry never leaves a private key readable by others behind.
 *
 * The platform, the command runner and the user are seams: the Windows path is tested on Linux.
 */

import { execFile } from "node:child_process";
import { open, unlink } from "node:fs/promises";
import os from "node:os";
import { FerryError, fromSystemError, UsageError } from "../errors.js";
import { refuseReservedOutput } from "../types/windows-names.js";

export interface KeyFileHost {
  platform: NodeJS.Platform;
  /** Run a program; its exit code and what it printed. */
  run(command: string, args: string[]): Promise<{ code: number | null; output: string }>;
  /** The account that runs ferry, as icacls names it (`DOMAIN\user`). */
  user(): string;
}

export const thisHost = (): KeyFileHost => ({
  platform: process.platform,
  run: (command, args) =>
    new Promise((resolve) => {
      execFile(command, args, { windowsHide: true }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({
          code,
          output: `${stdout}${stderr}${error && code === null ? error.message : ""}`,
        });
      });
    }),
  user: () => {
    const name = os.userInfo().username;
    const domain = process.env.USERDOMAIN;
    return domain ? `${domain}\\${name}` : name;
  },
});

/** Where to keep a private key, said when ferry cannot protect one. */
export const KEY_PLACE_HINT =
  "keep private keys in a folder only you (or only Administrators and SYSTEM, for a scheduled task) can read; docs/windows.md, section Keys, shows the icacls commands";

/** Create `file` holding `text` with `mode`; an existing file is never overwritten. */
async function writeNew(file: string, text: string, mode: number): Promise<void> {
  refuseReservedOutput(file);
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

/** Make the private key at `file` readable by the current user alone; how, in words. */
async function restrictToOwner(file: string, host: KeyFileHost): Promise<string> {
  if (host.platform !== "win32") return "mode 0600";
  const user = host.user();
  const result = await host.run("icacls", [file, "/inheritance:r", "/grant:r", `${user}:F`]);
  if (result.code !== 0) {
    throw new FerryError(
      "EIO",
      `${file}: ferry could not make the private key readable by ${user} alone (icacls exited ${result.code ?? "without starting"}: ${result.output.trim()}); the key was removed`,
      { hint: KEY_PLACE_HINT },
    );
  }
  return `readable by ${user} alone (icacls)`;
}

/**
 * Write a new key pair: `publicFile` (0644) and `privateFile`, the latter readable by the
 * current user alone (see the module comment). Returns how the private key is protected.
 */
export async function writeKeyPair(
  privateFile: string,
  publicFile: string,
  pems: { privatePem: string; publicPem: string },
  host: KeyFileHost = thisHost(),
): Promise<{ protection: string }> {
  refuseReservedOutput(privateFile);
  await writeNew(publicFile, pems.publicPem, 0o644);
  await writeNew(privateFile, pems.privatePem, 0o600);
  try {
    return { protection: await restrictToOwner(privateFile, host) };
  } catch (error) {
    await unlink(privateFile).catch(() => {});
    throw error;
  }
}

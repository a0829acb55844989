import { spawn } from "node:child_process";
import { ferryBin } from "../helpers/cli.js";

export interface AsyncRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run the built ferry without blocking this process: needed when the test serves ferry's
 * requests itself (a proxy or a fake registry in the test process). Listeners are attached at
 * spawn time.
 */
export function ferryAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<AsyncRun> {
  const child = spawn(process.execPath, [ferryBin, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Whether a command-line tool the tests need is installed. */

import { execFileSync } from "node:child_process";

/** True when `command ...args` runs and exits 0: the tool is installed. */
export function commandRuns(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

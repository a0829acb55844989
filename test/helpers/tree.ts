import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/**
 * A fingerprint of a directory (path -> sha256 of content), leaving out ferry's working area
 * (.ferry: lock, tmp, log), so "the store is as it was" can be asserted.
 */
export function fingerprint(dir: string, skip = [".ferry"]): Record<string, string> {
  const result: Record<string, string> = {};
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const full = path.join(current, name);
      const relative = path.relative(dir, full);
      if (skip.includes(relative.split(path.sep)[0] ?? "")) continue;
      if (statSync(full).isDirectory()) walk(full);
      else result[relative] = createHash("sha256").update(readFileSync(full)).digest("hex");
    }
  };
  try {
    walk(dir);
  } catch {
    return {};
  }
  return result;
}

/**
 * The temporary files and folders this run has made and not yet committed or removed: a
 * bundle's `OUT.zip.<pid>.<hex>.tmp`, a load's staging folder. Normally each owner removes its
 * own (a sink's `abort()`); this list is for the one moment nobody can wait for that, a second
 * Ctrl-C that stops ferry at once (cli/interrupt.ts), which removes them synchronously.
 */

import { rmSync } from "node:fs";

const temps = new Set<string>();

/** Remember `file` (a file or folder) until the returned function is called. */
export function trackRunTemp(file: string): () => void {
  temps.add(file);
  return () => {
    temps.delete(file);
  };
}

/** This run's temporary files and folders, in the order they were made. */
export function runTemps(): string[] {
  return [...temps];
}

/** Remove every tracked temporary file or folder now; the ones that could not be, returned. */
export function removeRunTempsSync(): string[] {
  const left: string[] = [];
  for (const file of temps) {
    try {
      rmSync(file, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
      temps.delete(file);
    } catch {
      left.push(file);
    }
  }
  return left;
}

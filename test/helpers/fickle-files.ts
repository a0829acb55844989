/**
 * Storage that answers differently each time a file is read, for the read-once tests: a
 * hostile USB stick can do this, and so can a racing writer on a shared folder.
 *
 * Used through `vi.mock("node:fs/promises", ...)` (see test/security/read-once.test.ts):
 * `fickleFs(real)` wraps the real module so that every `open` or `readFile` of a registered
 * path is one read of it, served the next of its versions (the last one repeats). Other
 * paths pass through untouched. This file imports no fs module itself (it is loaded inside
 * the mock factory).
 */

import path from "node:path";

interface FickleFile {
  versions: Buffer[];
  reads: number;
}

const files = new Map<string, FickleFile>();

/** From now on, the k-th read of `file` sees `versions[k]` (the last one for every later read). */
export function makeFickle(file: string, versions: Buffer[]): void {
  const sizes = new Set(versions.map((v) => v.length));
  if (sizes.size !== 1) throw new Error("every version of a fickle file has the same size");
  files.set(path.resolve(file), { versions, reads: 0 });
}

/** How many times `file` was opened or read since it was made fickle. */
export function readsOf(file: string): number {
  return files.get(path.resolve(file))?.reads ?? 0;
}

/** Make every file ordinary again. */
export function clearFickle(): void {
  files.clear();
}

/** A counted file that always answers the same (to count reads without changing them). */
export function countReads(file: string, content: Buffer): void {
  makeFickle(file, [content]);
}

function nextVersion(file: unknown): Buffer | undefined {
  if (typeof file !== "string" && !(file instanceof URL)) return undefined;
  const entry = files.get(path.resolve(file instanceof URL ? file.pathname : file));
  if (!entry) return undefined;
  const version = entry.versions[Math.min(entry.reads, entry.versions.length - 1)] as Buffer;
  entry.reads++;
  return version;
}

type FsPromises = typeof import("node:fs/promises");
type Handle = Awaited<ReturnType<FsPromises["open"]>>;

/** A file handle whose reads serve `content` (the real handle answers stat and close). */
function servingHandle(real: Handle, content: Buffer): Handle {
  let cursor = 0;
  const read = async (...args: unknown[]) => {
    let buffer: Buffer;
    let offset = 0;
    let length: number;
    let position: number | null | undefined;
    if (Buffer.isBuffer(args[0]) || args[0] instanceof Uint8Array) {
      buffer = args[0] as Buffer;
      offset = (args[1] as number | undefined) ?? 0;
      length = (args[2] as number | undefined) ?? buffer.length - offset;
      position = args[3] as number | null | undefined;
    } else {
      const options = (args[0] ?? {}) as {
        buffer?: Buffer;
        offset?: number;
        length?: number;
        position?: number | null;
      };
      buffer = options.buffer ?? Buffer.alloc(16384);
      offset = options.offset ?? 0;
      length = options.length ?? buffer.length - offset;
      position = options.position;
    }
    const from = typeof position === "number" && position >= 0 ? position : cursor;
    const n = Math.max(0, Math.min(length, content.length - from));
    content.copy(buffer, offset, from, from + n);
    if (!(typeof position === "number" && position >= 0)) cursor += n;
    return { bytesRead: n, buffer };
  };
  return new Proxy(real, {
    get(target, property) {
      if (property === "read") return read;
      if (property === "readFile") {
        return async (options?: unknown) => {
          const encoding =
            typeof options === "string" ? options : (options as { encoding?: string })?.encoding;
          return encoding ? content.toString(encoding as BufferEncoding) : Buffer.from(content);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The real fs/promises module, with fickle files served as registered. */
export function fickleFs(real: FsPromises): FsPromises {
  const open = (async (...args: Parameters<FsPromises["open"]>) => {
    const handle = await real.open(...args);
    const version = nextVersion(args[0]);
    return version ? servingHandle(handle, version) : handle;
  }) as FsPromises["open"];
  const readFile = (async (...args: Parameters<FsPromises["readFile"]>) => {
    const version = nextVersion(args[0]);
    if (!version) return real.readFile(...args);
    await real.access(args[0] as string);
    const options = args[1];
    const encoding = typeof options === "string" ? options : options?.encoding;
    return encoding ? version.toString(encoding) : Buffer.from(version);
  }) as FsPromises["readFile"];
  const patched = { ...real, open, readFile };
  return { ...patched, default: patched } as FsPromises;
}

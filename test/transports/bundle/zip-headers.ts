import { FileRandomAccess, readAt } from "../../../src/transports/bundle/random-access.js";
import { indexZip, type ZipEntry } from "../../../src/transports/bundle/zip-index.js";
import {
  type CentralHeader,
  compareLocalToCentral,
  parseCentralHeader,
  parseLocalHeader,
} from "../../../src/transports/bundle/zip-strict.js";

/** What the strict checks say about an archive, and every central header in order. */
export interface HeaderReport {
  /** indexZip's problems, then any local header that does not repeat its central header. */
  problems: string[];
  headers: CentralHeader[];
  entries: Map<string, ZipEntry>;
}

/**
 * Run the bundle reader's structural checks (indexZip) on a zip, then compare every local
 * header with its central header field by field once more (zip-strict's comparison), so a
 * test names the entry and field that disagree. Reads only headers: fine for sparse
 * archives of many GiB.
 */
export async function checkHeaders(file: string): Promise<HeaderReport> {
  const source = await FileRandomAccess.open(file);
  try {
    const index = await indexZip(source);
    const problems = index.problems.map((p) => p.message);
    const directory = await readAt(
      source,
      index.centralDirectoryOffset,
      source.size - index.centralDirectoryOffset,
    );
    const headers: CentralHeader[] = [];
    for (let at = 0, header = parseCentralHeader(directory, 0); header; ) {
      headers.push(header);
      at += header.length;
      header = parseCentralHeader(directory, at);
    }
    for (const central of headers) {
      const name = central.name.toString("utf8");
      const entry = index.entries.get(name);
      if (!entry) {
        problems.push(`${name}: not indexed`);
        continue;
      }
      const local = parseLocalHeader(await readAt(source, entry.localHeaderOffset, 30));
      if (!local) {
        problems.push(`${name}: no local header at ${entry.localHeaderOffset}`);
        continue;
      }
      for (const message of compareLocalToCentral(local, central))
        problems.push(`${name}: ${message}`);
    }
    return { problems, headers, entries: index.entries };
  } finally {
    await source.close();
  }
}

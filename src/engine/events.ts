import type { BlobEvent, CopyEvent, CopyListener } from "../types/copy-events.js";
import type { Source } from "../types/transport.js";

/**
 * Where a copy's events go: every listener the caller gave hears all of them; a source that
 * listens (`SourceCapabilities.onBlobEvent`) hears the events of the blobs it provides.
 */
export class CopyEvents {
  private readonly listeners: CopyListener[];

  constructor(listeners: Array<CopyListener | undefined>) {
    this.listeners = listeners.filter((listener) => listener !== undefined);
  }

  /** An event about the whole copy. */
  copy(event: CopyEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** An event about one blob, taken from `source`. */
  blob(source: Source, event: BlobEvent): void {
    for (const listener of this.listeners) listener(event);
    source.capabilities?.onBlobEvent?.(event);
  }
}

/**
 * The registry session's blob states: one place moves a blob, and only along the moves the
 * session makes; anything else is a bug (EINTERNAL) instead of a quietly inconsistent cache.
 */

import { describe, expect, it } from "vitest";
import { BlobBook } from "../../../src/transports/registry/blob-states.js";
import { LiveDownload } from "../../../src/transports/registry/live-download.js";
import type { Descriptor } from "../../../src/types/descriptor.js";

const descriptor: Descriptor = {
  mediaType: "application/octet-stream",
  digest: `sha256:${"ab".repeat(32)}` as Descriptor["digest"],
  size: 10,
};

describe("the blob states of a registry session", () => {
  it("a download's course: downloading, downloaded, verified, released; held until released", () => {
    const book = new BlobBook();
    const download = new LiveDownload(descriptor);
    const digest = descriptor.digest;
    book.move(digest, { kind: "downloading", download });
    expect(book.downloads()).toEqual([download]);
    book.move(digest, { kind: "downloaded", download });
    book.move(digest, { kind: "verified", download });
    expect(book.claimed().map(([d, state]) => [d, state.kind])).toEqual([[digest, "verified"]]);
    book.move(digest, { kind: "released", download, as: "published" });
    expect(book.claimed()).toEqual([]);
    // Asked again later: from the cache, or downloaded anew.
    book.move(digest, { kind: "cached", size: 10 });
    book.move(digest, { kind: "rejected" });
    book.move(digest, { kind: "downloading", download: new LiveDownload(descriptor) });
  });

  it("refuses a move the session never makes, naming the blob and both states", () => {
    const book = new BlobBook();
    const download = new LiveDownload(descriptor);
    const digest = descriptor.digest;
    expect(() => book.move(digest, { kind: "verified", download })).toThrow(
      expect.objectContaining({
        code: "EINTERNAL",
        message: expect.stringContaining(`${digest}: no move from none to verified`),
      }),
    );
    book.move(digest, { kind: "downloading", download });
    // A verdict comes only for a download that ended; a rejected one is never published.
    expect(() => book.move(digest, { kind: "verified", download })).toThrow(
      /downloading to verified/,
    );
    book.move(digest, { kind: "downloaded", download });
    book.move(digest, { kind: "rejected", download });
    expect(() => book.move(digest, { kind: "released", download, as: "published" })).toThrow(
      /rejected to released/,
    );
    expect(book.get(digest)?.kind).toBe("rejected");
  });
});

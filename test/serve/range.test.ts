/** The Range header of a blob request (src/serve/range.ts). */

import { describe, expect, it } from "vitest";
import { parseRange } from "../../src/serve/range.js";

describe("serve Range", () => {
  it("gives one part, its end cut at the blob's end", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ kind: "part", start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ kind: "part", start: 90, end: 99 });
    expect(parseRange("bytes=-5", 100)).toEqual({ kind: "part", start: 95, end: 99 });
    expect(parseRange("bytes=-500", 100)).toEqual({ kind: "part", start: 0, end: 99 });
    expect(parseRange("bytes=98-1000", 100)).toEqual({ kind: "part", start: 98, end: 99 });
    expect(parseRange("Bytes= 1-2 ", 100)).toEqual({ kind: "part", start: 1, end: 2 });
  });

  it("gives the whole blob for no header, another unit or several ranges", () => {
    for (const header of [undefined, "items=0-1", "bytes=0-1,5-6"]) {
      expect(parseRange(header, 100), String(header)).toEqual({ kind: "whole" });
    }
  });

  it("calls malformed or out-of-range requests unsatisfiable", () => {
    for (const header of [
      "bytes=100-",
      "bytes=5-2",
      "bytes=-0",
      "bytes=-",
      "bytes=x-y",
      `bytes=${"9".repeat(16)}-`,
    ]) {
      expect(parseRange(header, 100), header).toEqual({ kind: "unsatisfiable" });
    }
    expect(parseRange("bytes=-1", 0)).toEqual({ kind: "unsatisfiable" });
  });
});

import { describe, expect, it } from "vitest";
import { wimImageNamesOf } from "../../src/types/wim.js";

describe("wimImageNamesOf (the vnd.ferry.wim.images annotation)", () => {
  it("reads the JSON array of image names", () => {
    expect(wimImageNamesOf('["NanoServer","UtilityVM"]')).toEqual(["NanoServer", "UtilityVM"]);
    expect(wimImageNamesOf("[1, null]")).toEqual(["1", "null"]);
  });

  it("is empty when the annotation is absent, not JSON, or not an array", () => {
    for (const text of [undefined, "", "not json", '{"a":1}', '"NanoServer"']) {
      expect(wimImageNamesOf(text), String(text)).toEqual([]);
    }
  });
});

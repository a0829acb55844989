import { describe, expect, it } from "vitest";
import { boundedList, truncateText } from "../../src/types/bounded-list.js";

describe("boundedList", () => {
  it("lists everything when there are no more than the maximum", () => {
    expect(boundedList(["a", "b", "c"])).toBe("a, b, c");
    expect(boundedList([])).toBe("");
  });

  it("shows the first ten and counts the rest", () => {
    const items = Array.from({ length: 18_005 }, (_, i) => `linux/arch${i}`);
    const text = boundedList(items);
    expect(text.startsWith("linux/arch0, linux/arch1,")).toBe(true);
    expect(text.endsWith("linux/arch9, ... and 17,995 more")).toBe(true);
    expect(text.length).toBeLessThan(200);
  });

  it("cuts long items and takes its own maximum and separator", () => {
    expect(boundedList(["x".repeat(500)], { itemLength: 10 })).toBe(`${"x".repeat(9)}…`);
    expect(boundedList(["a", "b", "c"], { max: 2, separator: "\n" })).toBe("a\nb\n... and 1 more");
  });
});

describe("truncateText", () => {
  it("keeps short text and marks a cut", () => {
    expect(truncateText("short", 10)).toBe("short");
    expect(truncateText("0123456789abc", 10)).toBe("012345678…");
  });
});

import { describe, expect, it } from "vitest";
import {
  escapeControls,
  escapeControlsKeepingLines,
  terminalSafeJson,
} from "../../src/types/terminal-text.js";

describe("escapeControls", () => {
  it("shows C0, DEL and C1 controls as escapes", () => {
    expect(escapeControls("a\u001b[2Jb\u0007c\u007fd\u009be\u0000")).toBe(
      "a\\x1b[2Jb\\x07c\\x7fd\\x9be\\x00",
    );
  });

  it("names newline, carriage return and tab, so a value stays on its line", () => {
    expect(escapeControls("one\ntwo\rthree\tfour")).toBe("one\\ntwo\\rthree\\tfour");
  });

  it("shows the bidirectional controls and line separators", () => {
    expect(escapeControls("x\u202ey\u2066z\u200f\u061c\u2028\u2029")).toBe(
      "x\\u202ey\\u2066z\\u200f\\u061c\\u2028\\u2029",
    );
  });

  it("keeps ordinary text readable: accents, CJK, emoji, backslashes", () => {
    const text = 'café 東京 🚢 C:\\path "quoted"';
    expect(escapeControls(text)).toBe(text);
  });
});

describe("escapeControlsKeepingLines", () => {
  it("keeps line breaks and escapes everything else", () => {
    expect(escapeControlsKeepingLines("line 1\nline\u001b]0;x\u0007 2\r")).toBe(
      "line 1\nline\\x1b]0;x\\x07 2\\r",
    );
  });

  it("leaves escaped text as it is (no double escaping)", () => {
    const once = escapeControls("\u001b\u202e\n");
    expect(escapeControlsKeepingLines(once)).toBe(once);
  });
});

describe("terminalSafeJson", () => {
  const value = { name: "a\u001b[31m\u009b\u202e\u2028b\u007f", list: ["é", "\n"] };

  it("round-trips to the same values", () => {
    expect(JSON.parse(terminalSafeJson(value, 2))).toEqual(value);
  });

  it("holds no raw control character besides its own indentation", () => {
    const text = terminalSafeJson(value, 2);
    expect(text).toContain("\\u009b");
    expect(text).toContain("\\u202e");
    expect(text).toContain("\\u2028");
    expect(text).toContain("\\u007f");
    expect(text).toContain("é");
    expect([...text].filter((c) => c !== "\n" && escapeControls(c) !== c)).toEqual([]);
  });
});

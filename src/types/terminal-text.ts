/**
 * Text that came from outside (a registry, a bundle, a WIM, a store's index.json) made safe to
 * print on a terminal. Every printer goes through here (the CLI's output, its error report and
 * progress lines), so a tag, an image name or an error text cannot move the cursor, retitle the
 * window, hide text, or reorder what the user reads.
 *
 * Escaped: the C0 controls (U+0000-U+001F, ESC among them), DEL, the C1 controls
 * (U+0080-U+009F: U+009B is a one-character CSI on some terminals), the Unicode bidirectional
 * controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: "Trojan Source" reordering)
 * and the line and paragraph separators (U+2028, U+2029). Everything else, accented letters,
 * CJK and emoji included, is printed as it is.
 *
 * The escapes are for reading, not for parsing back: a backslash is not doubled.
 */

/** Whether a UTF-16 code unit is a control character a terminal could act on. */
function isControl(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

const NAMED: Record<number, string> = { 10: "\\n", 13: "\\r", 9: "\\t" };

function visible(code: number): string {
  return (
    NAMED[code] ??
    (code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`)
  );
}

function replaceWhere(
  text: string,
  unsafe: (code: number) => boolean,
  replacement: (code: number) => string,
): string {
  let result = "";
  let from = 0;
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at);
    if (!unsafe(code)) continue;
    result += text.slice(from, at) + replacement(code);
    from = at + 1;
  }
  return from === 0 ? text : result + text.slice(from);
}

/**
 * One value from outside (a tag, a name, a field): every control character shown as an escape,
 * newlines included, so the value stays on its line. `"\x1b[2J"` prints as `\x1b[2J`.
 */
export function escapeControls(text: string): string {
  return replaceWhere(text, isControl, visible);
}

/**
 * A block of text ferry composed (a message, a report) that may hold values from outside:
 * like `escapeControls`, but the line breaks stay line breaks.
 */
export function escapeControlsKeepingLines(text: string): string {
  return replaceWhere(text, (code) => code !== 0x0a && isControl(code), visible);
}

/**
 * JSON for a terminal or a pipe: `JSON.stringify`, with the characters it leaves raw (DEL, the C1
 * and bidirectional controls, U+2028/U+2029) written as `\uXXXX` escapes. Parsing the text gives
 * back exactly the same values.
 */
export function terminalSafeJson(value: unknown, space?: number): string {
  // JSON.stringify escapes the C0 controls inside strings (the raw line breaks left are its own
  // indentation); the others may only appear inside strings, where \uXXXX means the same.
  return replaceWhere(
    JSON.stringify(value, null, space),
    (code) => code >= 0x7f && isControl(code),
    (code) => `\\u${code.toString(16).padStart(4, "0")}`,
  );
}

/**
 * A field read from a document, for an error message: its JSON (`"abc"`, `12`, `null`), cut to
 * `length` characters, or `missing` when the field is absent (JSON.stringify would give undefined).
 */
export function shownField(value: unknown, length = 100): string {
  if (value === undefined) return "missing";
  const json = terminalSafeJson(value) ?? "missing";
  return json.length > length ? `${json.slice(0, length)}...` : json;
}

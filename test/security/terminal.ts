/**
 * What a terminal must never receive from ferry: control characters other than the line breaks
 * ferry writes itself (C0, DEL, C1, the bidirectional controls, U+2028/U+2029).
 */

/** The code points a terminal must not receive, as inclusive ranges (line feed excepted). */
const RAW_CONTROLS: ReadonlyArray<readonly [number, number]> = [
  [0x00, 0x09],
  [0x0b, 0x1f],
  [0x7f, 0x9f],
  [0x061c, 0x061c],
  [0x200e, 0x200f],
  [0x2028, 0x202e],
  [0x2066, 0x2069],
];

function isRawControl(code: number): boolean {
  return RAW_CONTROLS.some(([from, to]) => code >= from && code <= to);
}

/** The raw control characters in `text`, as U+XXXX names (empty when it is safe to print). */
export function rawControls(text: string): string[] {
  const found: string[] = [];
  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    if (isRawControl(code)) found.push(`U+${code.toString(16).padStart(4, "0").toUpperCase()}`);
  }
  return found;
}

/**
 * A hostile string: a title-setting OSC sequence ending in BEL, a screen-clearing CSI, a C1
 * CSI (U+009B), a right-to-left override, and a newline that would forge a line of its own.
 */
export const HOSTILE = "a\u001b]0;pwned\u0007b\u001b[2Jc\u009b31md\u202eevil\nferry: forged line";

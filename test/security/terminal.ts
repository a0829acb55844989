/**
 * What a terminal must never receive from ferry: control characters other than the line breaks
 * ferry writes itself (C0, DEL, C1, the bidirectional controls, U+2028/U+2029).
 */

function isRawControl(code: number): boolean {
  if (code === 0x0a) return false;
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

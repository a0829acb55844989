/**
 * Text files a person may have written or edited on Windows: UTF-8 with a byte-order mark
 * (Notepad, PowerShell 7's `Out-File -Encoding utf8BOM`), UTF-16 with one (Notepad's "Unicode",
 * Windows PowerShell 5.1's `>` and `Out-File`), CRLF line ends; and names in any case (a
 * FAT32 stick shows `NIGHTLY.ZIP.PARTS`, Windows matches names without regard to case).
 *
 * Only parsing is tolerant. Bytes that decide trust or identity are still the exact bytes read
 * once: a signature is checked over them, a digest computed from them, before (and whatever)
 * these functions make of their text.
 */

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/** The text of a file's bytes: UTF-8 (its BOM dropped), or UTF-16 LE/BE when a BOM says so. */
export function decodeTextFile(bytes: Uint8Array): string {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (UTF8_BOM.every((byte, at) => data[at] === byte)) return data.subarray(3).toString("utf8");
  if (data[0] === 0xff && data[1] === 0xfe) return data.subarray(2).toString("utf16le");
  if (data[0] === 0xfe && data[1] === 0xff) {
    // Node has no UTF-16 BE decoder: swap each pair of bytes into LE.
    const body = Buffer.from(data.subarray(2, 2 + ((data.length - 2) & ~1)));
    return body.swap16().toString("utf16le");
  }
  return data.toString("utf8");
}

/** Whether the bytes start like text that `decodeTextFile` turns into `{...` JSON. */
export function looksLikeJsonText(bytes: Uint8Array): boolean {
  return decodeTextFile(bytes.subarray(0, 8)).trimStart().startsWith("{");
}

/** Lines of a text, whatever their ends (LF or CRLF); a final line end gives no empty line. */
export function textLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** Whether `name` ends with `suffix` (`.parts`), in any case. */
export function hasSuffix(name: string, suffix: string): boolean {
  return name.length >= suffix.length && name.slice(-suffix.length).toLowerCase() === suffix;
}

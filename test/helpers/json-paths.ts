/**
 * For every byte of a JSON document, the path of the value (or key) it belongs to, e.g.
 * `blobs[3].integrity`, `id`, `parts[0].sha256 (key)`, or `(syntax)` for punctuation and
 * whitespace. Used to say which field a flipped byte of ferry.json or `.parts` hit.
 * Throws on input that is not JSON.
 */
export function jsonPaths(bytes: Buffer): string[] {
  const labels: string[] = new Array(bytes.length).fill("(syntax)");
  let at = 0;
  const skipSpace = () => {
    while (at < bytes.length && [0x20, 0x0a, 0x0d, 0x09].includes(bytes[at] as number)) at++;
  };
  const mark = (start: number, end: number, label: string) => {
    for (let i = start; i < end; i++) labels[i] = label;
  };
  const string = (): string => {
    const start = at;
    at++;
    while (at < bytes.length && bytes[at] !== 0x22) at += bytes[at] === 0x5c ? 2 : 1;
    at++;
    return JSON.parse(bytes.subarray(start, at).toString("utf8")) as string;
  };
  const value = (path: string): void => {
    skipSpace();
    const start = at;
    const c = bytes[at];
    if (c === 0x7b) {
      at++;
      skipSpace();
      if (bytes[at] === 0x7d) {
        at++;
        return;
      }
      for (;;) {
        skipSpace();
        const keyStart = at;
        const key = string();
        const child = path ? `${path}.${key}` : key;
        mark(keyStart, at, `${child} (key)`);
        skipSpace();
        at++; // colon
        value(child);
        skipSpace();
        if (bytes[at] === 0x2c) {
          at++;
          continue;
        }
        at++; // closing brace
        return;
      }
    }
    if (c === 0x5b) {
      at++;
      skipSpace();
      if (bytes[at] === 0x5d) {
        at++;
        return;
      }
      for (let index = 0; ; index++) {
        value(`${path}[${index}]`);
        skipSpace();
        if (bytes[at] === 0x2c) {
          at++;
          continue;
        }
        at++;
        return;
      }
    }
    if (c === 0x22) string();
    else
      while (at < bytes.length && !/[\s,\]}]/.test(String.fromCharCode(bytes[at] as number))) at++;
    mark(start, at, path || "(root)");
  };
  JSON.parse(bytes.toString("utf8"));
  value("");
  return labels;
}

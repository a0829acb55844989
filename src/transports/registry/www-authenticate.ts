/** One authentication challenge from a `WWW-Authenticate` header (RFC 7235). */
export interface Challenge {
  /** Lower-case scheme: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names in lower case: `realm`, `service`, `scope`, `error`. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

class Cursor {
  index = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.index >= this.text.length;
  }

  peek(): string {
    return this.text[this.index] ?? "";
  }

  skipSpaces(): void {
    while (this.peek() === " " || this.peek() === "\t") this.index++;
  }

  skipSeparators(): void {
    while (this.peek() === " " || this.peek() === "\t" || this.peek() === ",") this.index++;
  }

  token(): string {
    const start = this.index;
    while (!this.done && TOKEN.test(this.peek())) this.index++;
    return this.text.slice(start, this.index);
  }

  /** A quoted string (backslash escapes) or a token68-ish bare value up to a comma. */
  value(): string {
    if (this.peek() === '"') {
      this.index++;
      let out = "";
      while (!this.done && this.peek() !== '"') {
        if (this.peek() === "\\") this.index++;
        out += this.peek();
        this.index++;
      }
      this.index++;
      return out;
    }
    const start = this.index;
    while (!this.done && this.peek() !== "," && this.peek() !== " ") this.index++;
    return this.text.slice(start, this.index);
  }

  /** Whether a `name=` parameter (not a new challenge's scheme) starts here. */
  atParameter(): boolean {
    const saved = this.index;
    this.skipSpaces();
    const name = this.token();
    this.skipSpaces();
    const isParameter = name.length > 0 && this.peek() === "=";
    this.index = saved;
    return isParameter;
  }
}

/**
 * Parse a `WWW-Authenticate` header into its challenges:
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="..."`.
 * Several challenges in one header (comma separated) are all returned.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const cursor = new Cursor(header);
  const challenges: Challenge[] = [];
  while (true) {
    cursor.skipSeparators();
    if (cursor.done) break;
    const scheme = cursor.token();
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    cursor.skipSpaces();
    while (!cursor.done && cursor.atParameter()) {
      cursor.skipSpaces();
      const name = cursor.token().toLowerCase();
      cursor.skipSpaces();
      cursor.index++; // "="
      cursor.skipSpaces();
      challenge.params[name] = cursor.value();
      cursor.skipSpaces();
      if (cursor.peek() !== ",") break;
      cursor.index++;
      if (!cursor.atParameter()) break;
    }
    if (!cursor.done && !cursor.atParameter() && cursor.peek() !== ",") {
      const token68 = cursor.value();
      if (token68) challenge.params.token68 = token68;
    }
  }
  return challenges;
}

/** The challenge ferry answers: bearer first (it is what registries mean), then basic. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return (
    challenges.find((c) => c.scheme === "bearer" && c.params.realm) ??
    challenges.find((c) => c.scheme === "basic")
  );
}

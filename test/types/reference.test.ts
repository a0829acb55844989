import { describe, expect, it } from "vitest";
import { FerryError } from "../../src/errors.js";
import {
  familiarRepository,
  formatReference,
  isFullReference,
  parseReference,
  type Reference,
  repositoryOf,
  withTag,
} from "../../src/types/reference.js";

const HEX = "a".repeat(64);
const DIGEST = `sha256:${HEX}` as const;

function badReferenceError(input: string): FerryError {
  try {
    parseReference(input);
  } catch (error) {
    expect(error).toBeInstanceOf(FerryError);
    const ferryError = error as FerryError;
    expect(ferryError.code).toBe("EBADREF");
    expect(ferryError.message).toContain(`"${input}"`);
    return ferryError;
  }
  throw new Error(`expected "${input}" to be rejected`);
}

describe("parseReference normalization", () => {
  const cases: Array<[string, Reference]> = [
    ["alpine", { registry: "docker.io", repository: "library/alpine", tag: "latest" }],
    ["library/alpine", { registry: "docker.io", repository: "library/alpine", tag: "latest" }],
    ["docker.io/alpine", { registry: "docker.io", repository: "library/alpine", tag: "latest" }],
    [
      "index.docker.io/library/alpine:3",
      { registry: "docker.io", repository: "library/alpine", tag: "3" },
    ],
    [
      "index.docker.io/alpine",
      { registry: "docker.io", repository: "library/alpine", tag: "latest" },
    ],
    ["user/app:1.2", { registry: "docker.io", repository: "user/app", tag: "1.2" }],
    ["alpine:3.19", { registry: "docker.io", repository: "library/alpine", tag: "3.19" }],
    ["localhost:5000/a/b:c", { registry: "localhost:5000", repository: "a/b", tag: "c" }],
    ["localhost/app", { registry: "localhost", repository: "app", tag: "latest" }],
    ["[::1]:5000/x", { registry: "[::1]:5000", repository: "x", tag: "latest" }],
    ["[fe80::1]/x/y:t", { registry: "[fe80::1]", repository: "x/y", tag: "t" }],
    [
      "192.168.1.10:5000/team/app:v2",
      { registry: "192.168.1.10:5000", repository: "team/app", tag: "v2" },
    ],
    [`host.example/a@${DIGEST}`, { registry: "host.example", repository: "a", digest: DIGEST }],
    [`a:b@${DIGEST}`, { registry: "docker.io", repository: "library/a", tag: "b", digest: DIGEST }],
    [
      "mcr.microsoft.com/windows/nanoserver:ltsc2022",
      { registry: "mcr.microsoft.com", repository: "windows/nanoserver", tag: "ltsc2022" },
    ],
    ["Registry/app", { registry: "Registry", repository: "app", tag: "latest" }],
    ["a.b/c__d-e--f.g_h:T_1.x-y", { registry: "a.b", repository: "c__d-e--f.g_h", tag: "T_1.x-y" }],
    [
      "my-registry.io:443/deep/path/to/img",
      { registry: "my-registry.io:443", repository: "deep/path/to/img", tag: "latest" },
    ],
  ];

  it.each(cases)("parses %s", (input, expected) => {
    expect(parseReference(input)).toEqual(expected);
  });

  it("treats a single host-less component with a port-like suffix as a tag, like docker", () => {
    expect(parseReference("localhost:5000")).toEqual({
      registry: "docker.io",
      repository: "library/localhost",
      tag: "5000",
    });
  });

  it("adds no tag when defaultTag is false", () => {
    const ref = parseReference("alpine", { defaultTag: false });
    expect(ref).toEqual({ registry: "docker.io", repository: "library/alpine" });
    expect("tag" in ref).toBe(false);
  });

  it("does not add latest to a digest-only reference", () => {
    expect(parseReference(`alpine@${DIGEST}`)).toEqual({
      registry: "docker.io",
      repository: "library/alpine",
      digest: DIGEST,
    });
  });

  it("keeps a 128-character tag and a 255-character name", () => {
    const tag = `t${"x".repeat(127)}`;
    expect(parseReference(`alpine:${tag}`).tag).toBe(tag);
    const repository = "a".repeat(255 - "host.example/".length);
    expect(parseReference(`host.example/${repository}`).repository).toBe(repository);
  });
});

describe("parseReference rejects malformed references", () => {
  it("rejects upper case in the repository", () => {
    expect(badReferenceError("Alpine").message).toMatch(/repository name must be lowercase/);
    expect(badReferenceError("user/App:1").message).toMatch(/must be lowercase/);
    expect(badReferenceError("docker.io/Library/alpine").message).toMatch(/must be lowercase/);
  });

  it("rejects an empty reference", () => {
    expect(badReferenceError("").message).toMatch(/empty/);
  });

  it("rejects an empty tag", () => {
    expect(badReferenceError("a:").message).toMatch(/tag/);
  });

  it("rejects a tag without a name", () => {
    expect(badReferenceError(":tag").message).toMatch(/name is empty/);
  });

  it("rejects bad tags", () => {
    expect(badReferenceError("a:.x").message).toMatch(/invalid tag/);
    expect(badReferenceError("a:-x").message).toMatch(/invalid tag/);
    expect(badReferenceError(`a:${"x".repeat(129)}`).message).toMatch(/at most 128/);
  });

  it("rejects digests that are not sha256 with 64 lower-case hex characters", () => {
    expect(badReferenceError(`a@sha512:${"a".repeat(128)}`).message).toMatch(
      /unsupported digest algorithm "sha512".*only sha256/,
    );
    expect(badReferenceError(`a@sha256:${"A".repeat(64)}`).message).toMatch(/64 lower-case hex/);
    expect(badReferenceError("a@sha256:abc").message).toMatch(/64 lower-case hex/);
    expect(badReferenceError(`a@${HEX}`).message).toMatch(/malformed digest/);
    expect(badReferenceError("a@").message).toMatch(/digest.*empty/);
    expect(badReferenceError("a@sha256:").message).toMatch(/malformed digest/);
    expect(badReferenceError(`a@${DIGEST}@${DIGEST}`).message).toMatch(/more than one "@"/);
  });

  it("rejects empty path components", () => {
    expect(badReferenceError("a//b").message).toMatch(/double "\/"/);
    expect(badReferenceError("host.io//b").message).toMatch(/empty component/);
    expect(badReferenceError("/alpine").message).toMatch(/empty component/);
    expect(badReferenceError("alpine/").message).toMatch(/empty component/);
    expect(badReferenceError("host.io/").message).toMatch(/path is empty/);
  });

  it("rejects invalid path components", () => {
    expect(badReferenceError("a/-b").message).toMatch(/invalid path component "-b"/);
    expect(badReferenceError("a/b..c").message).toMatch(/invalid path component/);
    expect(badReferenceError("a/b___c").message).toMatch(/invalid path component/);
    expect(badReferenceError("a/b_").message).toMatch(/invalid path component/);
  });

  it("rejects invalid registries", () => {
    expect(badReferenceError("-host.io/a").message).toMatch(/invalid registry/);
    expect(badReferenceError("host.io:/a").message).toMatch(/invalid registry/);
    expect(badReferenceError("host.io:port/a").message).toMatch(/invalid registry/);
    expect(badReferenceError("[::1/a").message).toMatch(/invalid registry/);
  });

  it("rejects names longer than 255 characters", () => {
    const repository = "a".repeat(256 - "host.example/".length);
    expect(badReferenceError(`host.example/${repository}`).message).toMatch(/limit is 255/);
    expect(badReferenceError("b".repeat(300)).message).toMatch(/limit is 255/);
  });

  it("rejects white space, schemes and image IDs", () => {
    expect(badReferenceError(" alpine").message).toMatch(/white space/);
    expect(badReferenceError("alpine latest").message).toMatch(/white space/);
    const schemeError = badReferenceError("docker://alpine");
    expect(schemeError.message).toMatch(/scheme/);
    expect(schemeError.hint).toContain("docker://");
    expect(badReferenceError(HEX).message).toMatch(/image ID/);
  });

  it("records the reference in the error details", () => {
    expect(badReferenceError("A").details).toEqual({ reference: "A" });
  });
});

describe("formatReference", () => {
  it("writes the full normalized reference", () => {
    expect(formatReference(parseReference("alpine:3.19"))).toBe("docker.io/library/alpine:3.19");
    expect(formatReference(parseReference(`host:5000/a/b@${DIGEST}`))).toBe(
      `host:5000/a/b@${DIGEST}`,
    );
    expect(formatReference(parseReference(`r.io/a:t@${DIGEST}`))).toBe(`r.io/a:t@${DIGEST}`);
    expect(formatReference(parseReference("alpine", { defaultTag: false }))).toBe(
      "docker.io/library/alpine",
    );
  });

  it("round-trips through parseReference", () => {
    for (const input of [
      "docker.io/library/alpine:3.19",
      `localhost:5000/a/b:c@${DIGEST}`,
      "[::1]:5000/x:latest",
      "mcr.microsoft.com/windows/nanoserver:ltsc2022",
    ]) {
      expect(formatReference(parseReference(input))).toBe(input);
    }
  });
});

describe("familiarRepository", () => {
  it.each([
    ["alpine", "alpine"],
    ["docker.io/library/alpine:3", "alpine"],
    ["user/app", "user/app"],
    ["library/a/b", "library/a/b"],
    ["mcr.microsoft.com/windows/nanoserver:ltsc2022", "mcr.microsoft.com/windows/nanoserver"],
    ["localhost:5000/library/x", "localhost:5000/library/x"],
  ])("shows %s as %s", (input, expected) => {
    expect(familiarRepository(parseReference(input))).toBe(expected);
  });
});

describe("isFullReference", () => {
  it.each([
    ["alpine:3.19", true],
    ["docker.io/library/alpine:latest", true],
    [`alpine@${DIGEST}`, true],
    ["localhost:5000/a/b:c", true],
    ["latest", false],
    ["v1.0", false],
    ["3.19", false],
    ["alpine", false],
    ["V1.0", false],
    ["", false],
    ["a:", false],
  ])("%s -> %s", (input, expected) => {
    expect(isFullReference(input)).toBe(expected);
  });
});

describe("withTag", () => {
  it("replaces the tag and drops the digest", () => {
    const ref = parseReference(`r.io/a:t@${DIGEST}`);
    expect(withTag(ref, "v2")).toEqual({ registry: "r.io", repository: "a", tag: "v2" });
    expect(ref.digest).toBe(DIGEST);
  });

  it("rejects an invalid tag", () => {
    const ref = parseReference("alpine");
    expect(() => withTag(ref, "")).toThrow(expect.objectContaining({ code: "EBADREF" }));
    expect(() => withTag(ref, "-x")).toThrow(/invalid tag "-x"/);
  });
});

describe("repositoryOf", () => {
  it("omits tag and digest", () => {
    expect(repositoryOf(parseReference(`alpine:3@${DIGEST}`))).toBe("docker.io/library/alpine");
    expect(repositoryOf(parseReference("localhost:5000/a/b:c"))).toBe("localhost:5000/a/b");
  });
});

/**
 * How ferry serve's clients name stored repositories (src/serve/names.ts): the three rules,
 * their order, and a NAME two repositories share.
 */

import { describe, expect, it } from "vitest";
import { isRepositoryName, NameMap, type StoredName, storedNameOf } from "../../src/serve/names.js";

function names(...references: string[]): { map: NameMap; stored: StoredName[] } {
  const stored = references.map((r) => storedNameOf(r) as StoredName);
  return { map: new NameMap(stored), stored };
}

describe("serve names", () => {
  it("answers a Docker Hub image to its full name, library/NAME and NAME", () => {
    const { map } = names("docker.io/library/alpine:3.19", "docker.io/user/tool:1");
    for (const asked of ["docker.io/library/alpine", "library/alpine", "alpine"]) {
      expect(map.resolve(asked), asked).toEqual({
        kind: "found",
        full: "docker.io/library/alpine",
      });
    }
    expect(map.resolve("user/tool")).toEqual({ kind: "found", full: "docker.io/user/tool" });
    expect(map.resolve("tool")).toEqual({ kind: "unknown" });
  });

  it("answers another registry's image to its full name and its path, a port-bearing one to its path only", () => {
    const { map, stored } = names(
      "mcr.microsoft.com/windows/nanoserver:ltsc2022",
      "localhost:5000/tools:1",
    );
    expect(map.resolve("mcr.microsoft.com/windows/nanoserver").kind).toBe("found");
    expect(map.resolve("windows/nanoserver")).toEqual({
      kind: "found",
      full: "mcr.microsoft.com/windows/nanoserver",
    });
    expect(map.resolve("tools")).toEqual({ kind: "found", full: "localhost:5000/tools" });
    expect(map.resolve("localhost:5000/tools")).toEqual({ kind: "unknown" });
    expect(stored.map((s) => map.catalogName(s))).toEqual([
      "mcr.microsoft.com/windows/nanoserver",
      "tools",
    ]);
  });

  it("calls a path two registries share ambiguous, listing both, and lists their full names", () => {
    const { map, stored } = names("a.example.com/team/app:1", "b.example.com/team/app:2");
    expect(map.resolve("team/app")).toEqual({
      kind: "ambiguous",
      candidates: ["a.example.com/team/app", "b.example.com/team/app"],
    });
    expect(stored.map((s) => map.catalogName(s))).toEqual([
      "a.example.com/team/app",
      "b.example.com/team/app",
    ]);
    // With ports neither full name is a NAME: the shared path names neither; the catalog skips both.
    const ported = names("a.example.com:5000/team/app:1", "b.example.com:5000/team/app:2");
    expect(ported.map.resolve("team/app").kind).toBe("ambiguous");
    expect(ported.stored.map((s) => ported.map.catalogName(s))).toEqual([undefined, undefined]);
  });

  it("lets an earlier rule win: Docker Hub's library/alpine over another registry's path", () => {
    const { map } = names("quay.io/library/alpine:1", "docker.io/library/alpine:3.19");
    expect(map.resolve("library/alpine")).toEqual({
      kind: "found",
      full: "docker.io/library/alpine",
    });
    expect(map.resolve("quay.io/library/alpine")).toEqual({
      kind: "found",
      full: "quay.io/library/alpine",
    });
  });

  it("checks NAMEs by the distribution grammar", () => {
    for (const good of ["alpine", "library/alpine", "a.b-c__d/e", "x".repeat(255)]) {
      expect(isRepositoryName(good), good).toBe(true);
    }
    for (const bad of [
      "",
      "Alpine",
      "a//b",
      "../x",
      "a/..",
      "-a",
      "a-",
      "a:5000/b",
      "x".repeat(256),
    ]) {
      expect(isRepositoryName(bad), bad).toBe(false);
    }
  });
});

import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/cli.js";

describe("docs/commands.md", () => {
  it("matches the CLI's --help (run `npm run docs` after changing a command)", async () => {
    const generator = path.join(repoRoot, "scripts", "gen-command-docs.mjs");
    const { commandReference } = (await import(generator)) as {
      commandReference: () => Promise<string>;
    };
    const current = readFileSync(path.join(repoRoot, "docs", "commands.md"), "utf8");
    expect(current).toBe(await commandReference());
  });
});

#!/usr/bin/env node
// Writes docs/commands.md from the CLI's own --help text, so the reference always matches.
// `npm run docs` regenerates it; a test fails when it is stale.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export async function commandReference() {
  const { buildProgram } = await import(path.join(root, "dist", "cli", "main.js"));
  const program = buildProgram();
  const sections = [];
  const walk = (command, name) => {
    command.configureHelp({ helpWidth: 100 });
    sections.push(`## ${name}\n\n\`\`\`text\n${command.helpInformation().trimEnd()}\n\`\`\`\n`);
    for (const sub of command.commands) walk(sub, `${name} ${sub.name()}`);
  };
  walk(program, "ferry");
  return [
    "# Command reference",
    "",
    "Generated from `ferry --help` by `npm run docs` (scripts/gen-command-docs.mjs); a test keeps it current.",
    "Exit codes and error codes: [errors.md](errors.md).",
    "",
    ...sections,
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(path.join(root, "docs", "commands.md"), await commandReference());
  console.log("wrote docs/commands.md");
}

#!/usr/bin/env node
// Writes docs/commands.md from the CLI's own --help text and the transport table, so the
// reference always matches. `npm run docs` regenerates it; a test fails when it is stale.
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
    "Generated from `ferry --help` and the transport table by `npm run docs` (scripts/gen-command-docs.mjs); a test keeps it current.",
    "Exit codes and error codes: [errors.md](errors.md).",
    "",
    ...sections,
    ...(await transportSection()),
  ].join("\n");
}

/** The transport table (src/transports/table.ts): how each is written as a source and after --to. */
async function transportSection() {
  const { TRANSPORTS } = await import(path.join(root, "dist", "transports", "table.js"));
  const code = (forms) => forms.map((form) => (form.includes(" ") ? form : `\`${form}\``));
  const rows = TRANSPORTS.map((entry) => {
    const source = entry.source ? code(entry.source.forms).join(", ") : "-";
    const destination = entry.destination
      ? `${code(entry.destination.forms).join(", ")}: ${entry.destination.help}`
      : "-";
    // A `|` inside a cell would end it (GitHub tables read `\|` as a literal bar, code too).
    const cells = [entry.name, entry.summary, source, destination];
    return `| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`;
  });
  return [
    "## Transports",
    "",
    "Where images come from (`ferry save SOURCE...`, image lists) and where they go",
    "(`--to KIND[:WHERE]` of `load`, `pull`, `push` and `export`; each command takes the kinds",
    "its help names). A Windows path keeps its drive (`oci:C:\\layouts\\app:1.0` is the folder",
    "`C:\\layouts\\app`, reference `1.0`); UNC paths (`\\\\server\\share\\...`) work as written.",
    "",
    "| Transport | What it is | As a source | As a destination (`--to`) |",
    "|---|---|---|---|",
    ...rows,
    "",
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(path.join(root, "docs", "commands.md"), await commandReference());
  console.log("wrote docs/commands.md");
}

import { Command, CommanderError } from "commander";
import { EXIT_CODES, FerryError, isFerryError } from "../errors.js";
import { registerImages } from "./commands/images.js";
import { registerInspect } from "./commands/inspect.js";
import { registerLoad } from "./commands/load.js";
import { registerSave } from "./commands/save.js";
import { registerVerify } from "./commands/verify.js";
import { toolVersion } from "./context.js";

export function buildProgram(): Command {
  const program = new Command("ferry")
    .description("move container images and Windows base OS images across an air gap")
    .version(toolVersion())
    .showHelpAfterError()
    .exitOverride();
  registerSave(program);
  registerVerify(program);
  registerInspect(program);
  registerLoad(program);
  registerImages(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

function wantsJson(argv: string[]): boolean {
  return argv.includes("--json");
}

/** Print an error for a human (stderr) or, with --json, as JSON on stdout too. */
function report(error: FerryError, json: boolean): void {
  if (!error.details.reported) {
    process.stderr.write(`ferry: error [${error.code}]: ${error.message}\n`);
  }
  if (error.hint) process.stderr.write(`hint: ${error.hint}\n`);
  if (json && !error.details.reported)
    process.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
}

/** The one place ferry exits: maps errors to documented exit codes. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT_CODES.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.exitCode === 0
      ) {
        return EXIT_CODES.OK;
      }
      return EXIT_CODES.USAGE;
    }
    if (isFerryError(error)) {
      report(error, wantsJson(argv));
      return error.exitCode;
    }
    const internal = new FerryError(
      "EINTERNAL",
      error instanceof Error ? (error.stack ?? error.message) : String(error),
      {
        hint: "this is a bug in ferry: please report it with the command you ran",
      },
    );
    report(internal, wantsJson(argv));
    return internal.exitCode;
  }
}

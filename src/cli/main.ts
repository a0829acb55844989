import { Command, CommanderError } from "commander";
import {
  EXIT_CODES,
  FerryError,
  InterruptedError,
  isFerryError,
  isInterruption,
  UsageError,
} from "../errors.js";
import { escapeControlsKeepingLines, terminalSafeJson } from "../types/terminal-text.js";
import { registerCache } from "./commands/cache.js";
import { registerCheck } from "./commands/check.js";
import { registerExport } from "./commands/export.js";
import { registerGc } from "./commands/gc.js";
import { registerHave } from "./commands/have.js";
import { registerHistory } from "./commands/history.js";
import { registerImages } from "./commands/images.js";
import { registerInspect } from "./commands/inspect.js";
import { registerKeygen } from "./commands/keygen.js";
import { registerLoad } from "./commands/load.js";
import { registerLog } from "./commands/log.js";
import { registerLogin } from "./commands/login.js";
import { registerLogout } from "./commands/logout.js";
import { registerPull } from "./commands/pull.js";
import { registerPush } from "./commands/push.js";
import { registerRepair } from "./commands/repair.js";
import { registerReport } from "./commands/report.js";
import { registerRmi } from "./commands/rmi.js";
import { registerSave } from "./commands/save.js";
import { registerSearch } from "./commands/search.js";
import { registerServe } from "./commands/serve.js";
import { registerTag } from "./commands/tag.js";
import { registerTags } from "./commands/tags.js";
import { registerVerify } from "./commands/verify.js";
import { registerWim } from "./commands/wim.js";
import { toolVersion } from "./context.js";
import { installInterruptHandlers } from "./interrupt.js";

export function buildProgram(): Command {
  const program = new Command("ferry")
    .description("move container images and Windows base OS images across an air gap")
    .version(toolVersion())
    .option("--progress <mode>", "auto (bars on a terminal), json (JSON lines on stderr) or none")
    .hook("preAction", async (command) => {
      const mode = command.opts().progress as string | undefined;
      if (mode !== undefined) {
        if (!["auto", "json", "none"].includes(mode)) {
          throw new UsageError(`--progress ${mode}: use auto, json or none`);
        }
        process.env.FERRY_PROGRESS = mode;
      }
      // Loaded when a command runs, not for --help (see "CLI start-up" in architecture.md).
      const [{ setLockWaitListener }, { printLockWait }] = await Promise.all([
        import("../util/lock.js"),
        import("./lock-wait.js"),
      ]);
      setLockWaitListener(printLockWait);
    })
    .showHelpAfterError()
    .exitOverride();
  registerSave(program);
  registerVerify(program);
  registerInspect(program);
  registerReport(program);
  registerLoad(program);
  registerRepair(program);
  registerImages(program);
  registerHave(program);
  registerExport(program);
  registerHistory(program);
  registerCheck(program);
  registerLog(program);
  registerGc(program);
  registerSearch(program);
  registerKeygen(program);
  registerTag(program);
  registerRmi(program);
  registerWim(program);
  registerPull(program);
  registerPush(program);
  registerLogin(program);
  registerLogout(program);
  registerTags(program);
  registerCache(program);
  registerServe(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

function wantsJson(argv: string[]): boolean {
  return argv.includes("--json");
}

/**
 * Print an error for a human (stderr) or, with --json, as JSON on stdout too. Messages quote
 * what came from outside (names, registry texts, bytes that did not parse): their control
 * characters are shown escaped, never sent to the terminal.
 */
function report(error: FerryError, json: boolean): void {
  if (isInterruption(error)) {
    // One line: what state things are in and what running the command again does.
    process.stderr.write(`ferry: ${escapeControlsKeepingLines(error.message)}\n`);
    if (json) process.stdout.write(`${terminalSafeJson({ error: error.toJSON() }, 2)}\n`);
    return;
  }
  if (!error.details.reported) {
    process.stderr.write(
      `ferry: error [${error.code}]: ${escapeControlsKeepingLines(error.message)}\n`,
    );
  }
  if (error.hint) process.stderr.write(`hint: ${escapeControlsKeepingLines(error.hint)}\n`);
  if (json && !error.details.reported)
    process.stdout.write(`${terminalSafeJson({ error: error.toJSON() }, 2)}\n`);
}

/** The one place ferry exits: maps errors to documented exit codes. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const interrupts = installInterruptHandlers();
  try {
    await program.parseAsync(argv, { from: "user" });
    const signal = interrupts.received();
    if (signal) {
      process.stderr.write(`ferry: ${signal} arrived as the command was finishing: it completed\n`);
    }
    return EXIT_CODES.OK;
  } catch (caught) {
    const signal = interrupts.received();
    // Whatever failed once a signal arrived failed because of it (a download cut, a stream
    // destroyed): the interruption is what the user is told about.
    const error =
      signal && !isInterruption(caught)
        ? new InterruptedError(
            signal,
            `interrupted by ${signal} (${caught instanceof Error ? caught.message : String(caught)}); nothing was committed, and running the same command again starts over`,
            { cause: caught },
          )
        : caught;
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
  } finally {
    interrupts.uninstall();
  }
}

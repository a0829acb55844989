/**
 * File names Windows reserves for devices: CON, PRN, AUX, NUL, COM1-COM9 and LPT1-LPT9 (also
 * with the superscript digits ¹²³), in any case, with any extension (`aux.zip`, `CON.wim`,
 * `nul.tar.gz`) and any trailing dots or spaces. Opening one on Windows reaches the device,
 * not a file: writing a bundle there loses it, reading one reads the console. ferry refuses
 * such names for what it writes, on every platform (a bundle goes to a Windows host sooner or
 * later), and says what is wrong with one it is asked to read on Windows.
 */

import { UsageError } from "../errors.js";

const RESERVED = /^(con|prn|aux|nul|com[1-9¹²³]|lpt[1-9¹²³])$/i;

/** The device a file name (not a path) would reach on Windows, e.g. `AUX`, else undefined. */
export function windowsDeviceName(fileName: string): string | undefined {
  const stem = fileName.split(".")[0]?.replace(/[ .]+$/, "") ?? "";
  return RESERVED.test(stem) ? stem.toUpperCase() : undefined;
}

/** Why `fileName` cannot be a file on Windows, or undefined when it can. */
export function reservedNameProblem(fileName: string): string | undefined {
  const device = windowsDeviceName(fileName);
  if (device === undefined) return undefined;
  return `${fileName}: Windows reserves the name ${device} (with any extension) for a device, so it cannot be a file there`;
}

/** The last component of a path, with either separator (a Windows path named on Linux too). */
function lastComponent(file: string): string {
  return file.split(/[\\/]/).filter(Boolean).at(-1) ?? file;
}

/**
 * Refuse to write `file` under a name Windows reserves for a device (EUSAGE), on every
 * platform: the file would be lost on Windows, and could not be copied to a Windows host.
 */
export function refuseReservedOutput(file: string): void {
  const problem = reservedNameProblem(lastComponent(file));
  if (problem === undefined) return;
  throw new UsageError(problem, {
    hint: "choose another name for the output, e.g. with a word added (aux-images.zip)",
    details: { path: file },
  });
}

/**
 * Why a file ferry is asked to read cannot be read under that name on `platform` (Windows: a
 * reserved device name, which opens the device instead), else undefined. Elsewhere such a name
 * is an ordinary file (a stick written on Linux may carry one).
 */
export function reservedInputProblem(
  file: string,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  if (platform !== "win32") return undefined;
  return reservedNameProblem(lastComponent(file));
}

/** What to do about an input with a reserved name on Windows. */
export const RESERVED_INPUT_HINT =
  "rename it where it was made, or on Windows through the \\\\?\\ prefix (ren \\\\?\\D:\\images\\CON.wim nanoserver.wim), then run the command with the new name";

import { fromSystemError } from "../errors.js";

/**
 * What `attempt` (an fs call on `file`) gives, or undefined when `file` does not exist; any
 * other failure as the FerryError that names `file`.
 */
export async function ifExists<T>(attempt: Promise<T>, file: string): Promise<T | undefined> {
  try {
    return await attempt;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fromSystemError(error, file, "reading");
  }
}

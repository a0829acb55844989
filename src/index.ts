/**
 * ferry as a library (package.json `main`): the offline side's operations on a bundle, and the
 * typed errors they throw. The command line (`bin/ferry`, dist/cli/main.js) is the supported
 * interface; this entry point is deliberately small: what a script on the offline side needs
 * to verify and load bundles and to tell failures apart by code.
 *
 *   import { loadBundle, verifyBundle, FerryError } from "ferry";
 *   const report = await loadBundle("E:\\refresh.zip", { storeDir: "C:\\ProgramData\\ferry\\store" });
 */

export {
  type ErrorCode,
  EXIT_CODES,
  FerryError,
  InterruptedError,
  isFerryError,
} from "./errors.js";
export { type BundleInspection, inspectBundle } from "./ops/inspect-bundle.js";
export { type LoadOptions, type LoadReport, loadBundle } from "./ops/load.js";
export { type VerifyReport, verifyBundle } from "./ops/verify.js";

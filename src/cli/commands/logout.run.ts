import { logout, registryArgument } from "../../ops/registry-login.js";
import { createOutput } from "../output.js";
import type { LogoutFlags } from "./logout.js";

/** `ferry logout [REGISTRY]` (loaded when the command runs: see ./logout.ts). */
export async function runLogout(
  registryText: string | undefined,
  flags: LogoutFlags,
): Promise<void> {
  const out = createOutput(flags);
  const registry = registryArgument(registryText);
  const report = await logout({
    registry,
    ...(flags.authfile ? { authFile: flags.authfile } : {}),
  });
  out.result(report, () =>
    report.removedFrom.length > 0
      ? `removed the credentials for ${registry} from ${report.removedFrom.join(" and ")}`
      : `not logged in to ${registry}`,
  );
}

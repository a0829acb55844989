import { haveList } from "../../ops/have.js";
import { refuseReservedOutput } from "../../types/windows-names.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { toolName } from "../context.js";
import { createOutput } from "../output.js";
import { resolveStoreDir } from "../store-location.js";
import type { HaveFlags } from "./have.js";

/** `ferry have -o have.json` (loaded when the command runs: see ./have.ts). */
export async function runHave(flags: HaveFlags): Promise<void> {
  const out = createOutput(flags);
  const list = await haveList(resolveStoreDir(flags.store), toolName());
  refuseReservedOutput(flags.output);
  await writeFileAtomic(flags.output, Buffer.from(`${JSON.stringify(list, null, 2)}\n`));
  out.result(
    {
      output: flags.output,
      storeId: list.storeId,
      blobs: list.blobs.length,
      images: list.images.length,
    },
    () =>
      `wrote ${flags.output}: ${list.images.length} image name(s), ${list.blobs.length} blobs of store ${list.storeId}`,
  );
}

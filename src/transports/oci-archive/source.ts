import path from "node:path";
import { localRepositoryName } from "../layout/local-name.js";
import { LayoutSource } from "../layout/source.js";
import { TarFiles } from "../tar/tar-files.js";
import { TarReader } from "../tar/tar-reader.js";

/** `oci-archive:FILE[:REF]`: a tar of an OCI image layout, read in place. */
export async function openOciArchive(file: string, refName?: string): Promise<LayoutSource> {
  const tar = await TarReader.open(file);
  try {
    return await LayoutSource.open(new TarFiles(tar), {
      transport: `oci-archive:${file}`,
      fallbackRepository: localRepositoryName(path.basename(file)),
      ...(refName ? { refName } : {}),
    });
  } catch (error) {
    await tar.close();
    throw error;
  }
}

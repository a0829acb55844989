/**
 * The repository given to images that carry only a tag (or nothing) as their name:
 * `localhost/<file or folder name>`, as podman names unqualified local images.
 */
export function localRepositoryName(fileOrFolder: string): string {
  const stem = fileOrFolder.replace(/\.(tar|tgz|tar\.gz|zip|oci)$/i, "");
  const cleaned = stem
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  return `localhost/${cleaned || "image"}`;
}

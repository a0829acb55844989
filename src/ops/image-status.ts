/** How an image name compares with what the other side had under that name. */
export type ImageStatus = "new" | "updated" | "unchanged";

/** `new` when the name was absent, `unchanged` when it pointed at the same digest, else `updated`. */
export function imageStatus(
  previous: string | undefined,
  digest: string,
): { status: ImageStatus; previous?: string } {
  if (previous === undefined) return { status: "new" };
  return previous === digest ? { status: "unchanged" } : { status: "updated", previous };
}

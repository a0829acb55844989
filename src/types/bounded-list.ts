/**
 * Lists inside messages, kept short: a hostile index with 18,000 platforms must not turn one
 * error into a 300 KB wall of text. The first items are shown, then how many more there are.
 */

export interface BoundedListOptions {
  /** Items shown at most (default 10). */
  max?: number;
  /** Between items (default ", "). */
  separator?: string;
  /** Characters of one item shown at most, the rest replaced by "…" (default 200). */
  itemLength?: number;
}

/** Cut `text` to `length` characters, marking the cut with "…". */
export function truncateText(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, Math.max(0, length - 1))}…`;
}

/** `a, b, c, ... and 17,995 more` (all of them when there are no more than `max`). */
export function boundedList(items: readonly string[], options: BoundedListOptions = {}): string {
  const max = options.max ?? 10;
  const separator = options.separator ?? ", ";
  const itemLength = options.itemLength ?? 200;
  const shown = items.slice(0, max).map((item) => truncateText(item, itemLength));
  const more = items.length - shown.length;
  if (more <= 0) return shown.join(separator);
  return `${shown.join(separator)}${separator}... and ${more.toLocaleString("en-US")} more`;
}

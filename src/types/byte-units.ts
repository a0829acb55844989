/**
 * A byte count in the largest unit it reaches: `base` 1000 (kB, MB: docker's tables) or 1024
 * (KiB, MiB: a reviewer's report). `unit` indexes `units`; 0 means plain bytes.
 */
export function scaleBytes(
  bytes: number,
  base: 1000 | 1024,
  units: readonly string[],
): { value: number; unit: number } {
  let value = bytes;
  let unit = 0;
  while (value >= base && unit < units.length - 1) {
    value /= base;
    unit++;
  }
  return { value, unit };
}

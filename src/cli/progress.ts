import cliProgress from "cli-progress";
import type { CopyEvent } from "../engine/copy.js";
import { formatSize } from "./output.js";

/**
 * A byte progress bar on stderr, only when stderr is a terminal and the output is not JSON;
 * silent otherwise (cron jobs and pipes get no escape codes).
 */
export function createProgress(
  label: string,
  enabled: boolean,
): { onEvent: (event: CopyEvent) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { onEvent: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {done}/{total_size} | blobs {blobs}`,
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let bytes = 0;
  let blobsDone = 0;
  let blobsTotal = 0;
  let total = 0;
  const payload = () => ({
    done: formatSize(bytes),
    total_size: formatSize(total),
    blobs: `${blobsDone}/${blobsTotal}`,
  });
  return {
    onEvent(event) {
      switch (event.type) {
        case "start":
          total = event.bytes;
          blobsTotal = event.blobs;
          bar.start(Math.max(1, total), 0, payload());
          started = true;
          break;
        case "blob-progress":
          bytes += event.bytes;
          bar.update(bytes, payload());
          break;
        case "blob-skip":
          bytes += event.size;
          blobsDone++;
          bar.update(bytes, payload());
          break;
        case "blob-done":
          blobsDone++;
          bar.update(bytes, payload());
          break;
        default:
          break;
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

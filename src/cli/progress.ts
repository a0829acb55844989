import { createRequire } from "node:module";
import type CliProgress from "cli-progress";
import type { CopyEvent } from "../engine/copy.js";
import { escapeControls, terminalSafeJson } from "../types/terminal-text.js";
import { formatSize } from "./output.js";

const MIN_BAR_BYTES = 32 * 1024 * 1024;

/**
 * A terminal bar. cli-progress (with its string-width and ANSI helpers) is required here, when
 * a bar is first drawn, not when ferry starts: pipes, cron jobs, --json, --quiet and short work
 * never load it.
 */
function newBar(label: string): CliProgress.SingleBar {
  const cliProgress = createRequire(import.meta.url)("cli-progress") as typeof CliProgress;
  return new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${escapeControls(label)} [{bar}] {percentage}% | {done}/{total_size} | blobs {blobs}`,
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
}

/**
 * Progress as JSON lines on stderr (`ferry --progress json ...` or FERRY_PROGRESS=json), for
 * unattended jobs: one line at start, per finished or skipped blob, at most one per second in
 * between, and at commit.
 */
function jsonLines(operation: string): { onEvent: (event: CopyEvent) => void; stop: () => void } {
  let bytes = 0;
  let total = 0;
  let last = 0;
  const emit = (record: Record<string, unknown>) =>
    process.stderr.write(
      `${terminalSafeJson({ operation, time: new Date().toISOString(), ...record })}\n`,
    );
  return {
    onEvent(event) {
      if (event.type === "start") {
        total = event.bytes;
        emit({ event: "start", images: event.images, blobs: event.blobs, bytes: event.bytes });
      } else if (event.type === "blob-progress") {
        bytes += event.bytes;
        const now = Date.now();
        if (now - last >= 1000) {
          last = now;
          emit({ event: "progress", bytes, total });
        }
      } else if (event.type === "blob-skip") {
        bytes += event.size;
        emit({ event: "blob-skipped", digest: event.digest, size: event.size });
      } else if (event.type === "blob-done") {
        emit({ event: "blob-done", digest: event.digest, size: event.size, bytes, total });
      } else if (event.type === "commit") {
        emit({ event: "commit" });
      }
    },
    stop() {},
  };
}

/**
 * A byte progress bar on stderr, only when stderr is a terminal and the output is not JSON;
 * silent otherwise (cron jobs and pipes get no escape codes).
 */
export function createProgress(
  label: string,
  enabled: boolean,
): { onEvent: (event: CopyEvent) => void; stop: () => void } {
  const mode = process.env.FERRY_PROGRESS ?? "auto";
  if (mode === "json") return jsonLines(label);
  if (!enabled || mode === "none" || !process.stderr.isTTY)
    return { onEvent: () => {}, stop: () => {} };
  let bar: CliProgress.SingleBar | undefined;
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
          // Short work gets no bar: it would only flash.
          if (total >= MIN_BAR_BYTES) {
            bar ??= newBar(label);
            bar.start(Math.max(1, total), 0, payload());
          }
          break;
        case "blob-progress":
          bytes += event.bytes;
          bar?.update(bytes, payload());
          break;
        case "blob-skip":
          bytes += event.size;
          blobsDone++;
          bar?.update(bytes, payload());
          break;
        case "blob-done":
          blobsDone++;
          bar?.update(bytes, payload());
          break;
        default:
          break;
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

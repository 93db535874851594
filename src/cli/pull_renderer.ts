/**
 * Renders download events: NDJSON with `--json`, a progress bar (bytes, rate,
 * ETA; `cli-progress`) when stderr is a terminal, a line per file otherwise,
 * nothing but the result with `--quiet`.
 * @module
 */
// @ts-types="@types/cli-progress"
import cliProgress from "cli-progress";
import process from "node:process";
import type { DownloadEvent } from "../events/download_event.ts";
import { formatBytes, type Output } from "./output.ts";

/** A renderer bound to one pull. */
export interface PullRenderer {
  onEvent(event: DownloadEvent): void;
  /** Stops and clears any bar (call on error too). */
  stop(): void;
}

/** Creates the renderer that fits the output mode. */
export function createPullRenderer(output: Output): PullRenderer {
  if (output.json) return { onEvent: (e) => output.event(e), stop: () => {} };
  if (output.quiet) return { onEvent: () => {}, stop: () => {} };
  if (output.stderrIsTty) return barRenderer();
  return lineRenderer(output);
}

function lineRenderer(output: Output): PullRenderer {
  return {
    onEvent(e) {
      if (e.event === "file_started") {
        output.note(
          `downloading ${e.filename} (${e.size_bytes === null ? "size unknown" : formatBytes(e.size_bytes)})`,
        );
      } else if (e.event === "waiting") {
        output.note(`waiting: another lode process holds the lock of ${e.what}…`);
      }
    },
    stop() {},
  };
}

function barRenderer(): PullRenderer {
  const multi = new cliProgress.MultiBar({
    stream: process.stderr,
    format: "{filename} {bar} {percentage}% | {done}/{size} | {rate} | ETA {eta_formatted}",
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, cliProgress.SingleBar>();
  const fileOf = new Map<string, string>();
  let stopped = false;
  return {
    onEvent(e) {
      switch (e.event) {
        case "waiting":
          multi.log(`waiting: another lode process holds the lock of ${e.what}…\n`);
          break;
        case "file_started": {
          if (e.model) fileOf.set(e.model, e.filename);
          const size = e.size_bytes ?? 0;
          bars.set(
            e.filename,
            multi.create(size, 0, { filename: e.filename, done: "0 B", size: formatBytes(size), rate: "" }),
          );
          break;
        }
        case "file_progress":
          bars.get(e.filename)?.update(e.downloaded_bytes, {
            done: formatBytes(e.downloaded_bytes),
            rate: `${formatBytes(e.bytes_per_second)}/s`,
          });
          break;
        case "file_completed":
          bars.get(e.filename)?.stop();
          break;
        case "failed": {
          const bar = e.model ? bars.get(fileOf.get(e.model) ?? "") : undefined;
          bar?.stop();
          break;
        }
      }
    },
    stop() {
      // cli-progress redraws once more on stop: only the first call may do that.
      if (stopped) return;
      stopped = true;
      multi.stop();
    },
  };
}

/**
 * Renders download events: NDJSON with `--json`, a progress bar (bytes, rate,
 * ETA; `cli-progress`) when stderr is a terminal, a line per file otherwise,
 * nothing but the result with `--quiet`.
 *
 * @example
 * ```ts
 * const render = createPullRenderer(output);
 * await pullModel(plan, { store, policy, emit: render.onEvent });
 * render.stop();
 * ```
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
  if (output.stderrIsTty) return barRenderer(output);
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

function barRenderer(output: Output): PullRenderer {
  let bar: cliProgress.SingleBar | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    onEvent(e) {
      switch (e.event) {
        case "waiting":
          output.note(`waiting: another lode process holds the lock of ${e.what}…`);
          break;
        case "file_started":
          bar = new cliProgress.SingleBar({
            stream: process.stderr,
            format: `${e.filename} {bar} {percentage}% | {done}/{size} | {rate} | ETA {eta_formatted}`,
            barsize: 30,
            hideCursor: true,
            clearOnComplete: false,
            etaBuffer: 50,
          }, cliProgress.Presets.shades_classic);
          bar.start(e.size_bytes ?? 0, 0, { done: "0 B", size: formatBytes(e.size_bytes ?? 0), rate: "" });
          break;
        case "file_progress":
          bar?.update(e.downloaded_bytes, {
            done: formatBytes(e.downloaded_bytes),
            rate: `${formatBytes(e.bytes_per_second)}/s`,
          });
          break;
        case "file_completed":
        case "failed":
          stop();
          break;
      }
    },
    stop,
  };
}

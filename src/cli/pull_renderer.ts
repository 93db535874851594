/**
 * Renders download events for people: a progress bar (bytes, rate, ETA; `cli-progress`) when stderr is
 * a terminal, a line per file otherwise, nothing with `--quiet` or `--json` (there the command stream's
 * printer prints the events, command_events.ts). Everything is written through the
 * {@link Output} (the bar too), as callbacks of the download engine: a closed
 * output drops what follows (the pull itself stops through `output.closed`).
 * @module
 */
// @ts-types="@types/cli-progress"
import cliProgress from "cli-progress";
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
  if (output.json || output.quiet) return { onEvent: () => {}, stop: () => {} };
  const renderer = output.stderrIsTty ? barRenderer(output) : lineRenderer(output);
  return { onEvent: output.sink(renderer.onEvent), stop: output.sink(renderer.stop) };
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
      } else if (e.event === "mirror_failed") {
        output.note(mirrorLine(e));
      } else if (e.event === "file_restarted") {
        output.note(restartLine(e));
      } else if (e.event === "file_skipped") {
        output.note(skippedLine(e));
      }
    },
    stop() {},
  };
}

/** One line for a URL of a file that failed: what failed, why, and the URL tried next. */
function mirrorLine(e: Extract<DownloadEvent, { event: "mirror_failed" }>): string {
  const why = e.status === undefined ? e.code : `${e.code}, HTTP ${e.status}`;
  return `${e.filename}: ${e.url} failed (${why}); trying ${e.next_url}`;
}

/** One line for a file the pull leaves out: which, its size, the limit. */
function skippedLine(e: Extract<DownloadEvent, { event: "file_skipped" }>): string {
  const size = e.size_bytes === undefined ? "of unknown size" : formatBytes(e.size_bytes);
  return `${e.filename} (${e.role}, ${size}) is not kept: larger than ${formatBytes(e.limit_bytes)}`;
}

const RESTART_WHY = {
  validator_changed: "the origin's file changed since the last pull",
  size_changed: "the origin's file changed size since the last pull",
  changed_during_download: "the origin's file changed during the download",
} as const;

/** One line for a file whose kept bytes belong to another version: why, and what is fetched again. */
function restartLine(e: Extract<DownloadEvent, { event: "file_restarted" }>): string {
  const was = e.previous?.validator ?? (e.previous ? formatBytes(e.previous.size_bytes) : null);
  const now = e.current?.validator ??
    (e.current?.size_bytes != null ? formatBytes(e.current.size_bytes) : null);
  const change = was && now && was !== now ? ` (${was} -> ${now})` : "";
  const lost = e.discarded_bytes > 0
    ? `; ${formatBytes(e.discarded_bytes)} already fetched are discarded`
    : "";
  return `${e.filename}: ${RESTART_WHY[e.reason]}${change}: starting it over${lost}`;
}

/** The terminal stream cli-progress draws on: stderr through `output` (it redraws from a timer too). */
function barStream(output: Output) {
  const write = output.sink((text: string) => output.stderr(text));
  return {
    isTTY: true,
    get columns(): number | undefined {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return undefined; // cli-progress then assumes 80
      }
    },
    write(chunk: string, callback?: () => void) {
      write(chunk);
      callback?.();
      return true;
    },
  };
}

function barRenderer(output: Output): PullRenderer {
  const multi = new cliProgress.MultiBar({
    // @ts-expect-error: cli-progress writes to, and asks the width of, nothing more than this of a stream
    stream: barStream(output),
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
        case "mirror_failed": {
          // The next URL's `file_started` draws the file's bar again.
          const bar = bars.get(e.filename);
          if (bar) multi.remove(bar);
          bars.delete(e.filename);
          multi.log(`${mirrorLine(e)}\n`);
          break;
        }
        case "file_skipped":
          multi.log(`${skippedLine(e)}\n`);
          break;
        case "file_restarted":
          bars.get(e.filename)?.update(0, { done: formatBytes(0) });
          multi.log(`${restartLine(e)}\n`);
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

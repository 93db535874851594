/**
 * Renders download events for people: a progress bar (bytes, rate, ETA; pull_bar.ts, loaded only then)
 * when stderr is a terminal, a line per file otherwise, nothing with `--quiet` or `--json` (there the
 * command stream's printer prints the events, command_events.ts). Everything is written through the
 * {@link Output} (the bar too), as callbacks of the download engine: a closed
 * output drops what follows (the pull itself stops through `output.closed`).
 * @module
 */
import { formatBytes, type Output } from "./output.ts";
import { mirrorLine, type PullRenderer, restartLine, skippedLine } from "./pull_lines.ts";

export type { PullRenderer };

/**
 * Creates the renderer that fits the output mode; the bar's module (and `cli-progress`) is loaded only when
 * stderr is a terminal.
 */
export async function createPullRenderer(output: Output): Promise<PullRenderer> {
  if (output.json || output.quiet) return { onEvent: () => {}, stop: () => {} };
  const renderer = output.stderrIsTty
    ? (await import("./pull_bar.ts")).barRenderer(output)
    : lineRenderer(output);
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

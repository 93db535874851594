/**
 * The progress bar of a pull on a terminal (`cli-progress`): bytes, rate and ETA per file, drawn on stderr
 * through the {@link Output}. Loaded by `createPullRenderer` (pull_renderer.ts) only when stderr is a terminal.
 * @module
 */
// @ts-types="@types/cli-progress"
import cliProgress from "cli-progress";
import { formatBytes, type Output } from "./output.ts";
import { mirrorLine, type PullRenderer, restartLine, skippedLine } from "./pull_lines.ts";

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

/** The bars of a pull's files, and the lines it logs above them. */
export function barRenderer(output: Output): PullRenderer {
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

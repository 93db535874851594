/**
 * What a pull's renderers share: the renderer's shape, and the lines for a URL that failed, for a file
 * started over and for a file left out (pull_renderer.ts without a terminal, pull_bar.ts above the bars).
 * @module
 */
import type { DownloadEvent } from "../events/download_event.ts";
import { formatBytes } from "./output.ts";

/** A renderer bound to one pull. */
export interface PullRenderer {
  onEvent(event: DownloadEvent): void;
  /** Stops and clears any bar (call on error too). */
  stop(): void;
}

/** One line for a URL of a file that failed: what failed, why, and the URL tried next. */
export function mirrorLine(e: Extract<DownloadEvent, { event: "mirror_failed" }>): string {
  const why = e.status === undefined ? e.code : `${e.code}, HTTP ${e.status}`;
  return `${e.filename}: ${e.url} failed (${why}); trying ${e.next_url}`;
}

/** One line for a file the pull leaves out: which, its size, the limit. */
export function skippedLine(e: Extract<DownloadEvent, { event: "file_skipped" }>): string {
  const size = e.size_bytes === undefined ? "of unknown size" : formatBytes(e.size_bytes);
  return `${e.filename} (${e.role}, ${size}) is not kept: larger than ${formatBytes(e.limit_bytes)}`;
}

const RESTART_WHY = {
  validator_changed: "the origin's file changed since the last pull",
  size_changed: "the origin's file changed size since the last pull",
  changed_during_download: "the origin's file changed during the download",
} as const;

/** One line for a file whose kept bytes belong to another version: why, and what is fetched again. */
export function restartLine(e: Extract<DownloadEvent, { event: "file_restarted" }>): string {
  const was = e.previous?.validator ?? (e.previous ? formatBytes(e.previous.size_bytes) : null);
  const now = e.current?.validator ??
    (e.current?.size_bytes != null ? formatBytes(e.current.size_bytes) : null);
  const change = was && now && was !== now ? ` (${was} -> ${now})` : "";
  const lost = e.discarded_bytes > 0
    ? `; ${formatBytes(e.discarded_bytes)} already fetched are discarded`
    : "";
  return `${e.filename}: ${RESTART_WHY[e.reason]}${change}: starting it over${lost}`;
}

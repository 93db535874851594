/**
 * The `loading_model` phase `download` of a model load (`status_event.ts`), derived from the pull's
 * download events (`download_event.ts`): a `file_progress` event becomes a `download` phase with the
 * URL its file's `file_started` named. The download layer reports a file's progress as download
 * events; whoever shows a load's status (the daemon's admin stream and clients) derives the phase here.
 *
 * @example
 * ```ts
 * import { downloadPhases } from "./download_status.ts";
 * const toStatus = downloadPhases((status) => console.log(status.downloaded_bytes));
 * toStatus({
 *   event: "file_started", filename: "m.gguf", index: 1, total_files: 1, size_mb: 0, size_bytes: 10,
 *   url: "https://h/m.gguf",
 * });
 * toStatus({
 *   event: "file_progress", filename: "m.gguf", downloaded_mb: 0, total_mb: 0, downloaded_bytes: 4,
 *   total_bytes: 10, bytes_per_second: 0,
 * });
 * ```
 * @module
 */
import type { DownloadEvent } from "./download_event.ts";
import type { LoadingModelEvent } from "./status_event.ts";

/** The `download` phase of a model load. */
export type DownloadPhase = Extract<LoadingModelEvent, { phase: "download" }>;

/**
 * A download-event callback that calls `onStatus` with the `download` phase of each `file_progress`
 * (other download events yield none).
 */
export function downloadPhases(onStatus: (status: DownloadPhase) => void): (event: DownloadEvent) => void {
  const urls = new Map<string, string>();
  return (event) => {
    if (event.event === "file_started") urls.set(event.filename, event.url);
    else if (event.event === "file_progress") {
      onStatus({
        status: "loading_model",
        phase: "download",
        downloaded_bytes: event.downloaded_bytes,
        total_bytes: event.total_bytes,
        source_url: urls.get(event.filename) ?? "",
      });
    } else if (event.event === "file_completed") urls.delete(event.filename);
  };
}

/**
 * `lode job watch ID` without a daemon: publishes the job's events on the command's stream (source `job`,
 * with its id; printed with `--json`) from the start of its `events.ndjson`, then each one appended, until
 * its record says it finished (or its process died: `interrupted`).
 * @module
 */
import { isFinished, type JobEvent } from "../events/job_event.ts";
import type { JobRecord, JobRecords } from "../jobs/job_record.ts";
import type { CommandContext } from "./context.ts";
import { progressText } from "./job_text.ts";

/** Follows job `id`'s events to its end and returns its final record. */
export async function watchJob(ctx: CommandContext, records: JobRecords, id: string): Promise<JobRecord> {
  let record = await records.read(id);
  const path = `${records.jobDir(id)}/events.ndjson`;
  let offset = 0;
  let pending = "";
  const decoder = new TextDecoder();
  for (let delay = 20;; delay = Math.min(delay * 2, 250)) {
    const done = isFinished(record.state) || record.state === "interrupted";
    const bytes = await Deno.readFile(path).catch(() => new Uint8Array());
    if (bytes.length > offset) {
      pending += decoder.decode(bytes.subarray(offset));
      offset = bytes.length;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) print(ctx, id, line);
      delay = 20;
    }
    // Read once more after the record says finished: the last events are appended before the record is written.
    if (done) return record;
    if (ctx.output.closed.aborted) return record;
    await new Promise((resolve) => setTimeout(resolve, delay));
    record = await records.read(id);
  }
}

/** Publishes one line of the events file (source `job`, with the job's id) and prints it for people. */
function print(ctx: CommandContext, id: string, line: string): void {
  let event: JobEvent;
  try {
    event = JSON.parse(line);
  } catch {
    return; // a line being appended
  }
  ctx.emit("job", event, { jobId: id });
  switch (event.event) {
    case "job_state":
      ctx.output.result(
        `${event.at}  ${event.state}${event.error ? `  [${event.error.code}] ${event.error.message}` : ""}`,
      );
      return;
    case "job_progress":
      ctx.output.result(
        `${event.at}  ${progressText(event)}${event.progress.message ? `  ${event.progress.message}` : ""}`,
      );
      return;
    case "job_artifact":
      ctx.output.result(`${event.at}  artifact ${event.artifact.id}  ${event.artifact.path}`);
      return;
    case "job_log":
      ctx.output.result(`${event.at}  ${event.level}: ${event.message}`);
      return;
  }
}

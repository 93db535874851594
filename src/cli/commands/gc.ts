/**
 * `lode gc [--dry-run] [--older-than DURATION] [--quarantine] [--uploads-older-than DURATION]
 * [--batches-older-than DURATION] [--jobs-older-than DURATION]`: remove unreferenced blobs, stale partial
 * downloads and upload records of pushes never finished, skipping anything a running lode process holds; the
 * Batch API's expired files, and with `--batches-older-than` its files and ended batches older than that;
 * with `--jobs-older-than` the records of jobs finished longer ago than that (src/jobs/job_gc.ts), except the
 * jobs of the batches left; report the bytes freed.
 * @module
 */
import type { GcDoneEvent } from "../../events/store_event.ts";
import { collectGarbage, type GcEvent } from "../../store/gc.ts";
import { formatDuration, parseDuration } from "../../store/gc_duration.ts";
import { LodeError } from "../../errors.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** `lode gc`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const olderThanMs = parseDuration(parsed.options.olderThan as string);
  const uploadsOlderThanMs = parseDuration(parsed.options.uploadsOlderThan as string);
  const batchesOlderThan = parsed.options.batchesOlderThan as string | undefined;
  const batchesOlderThanMs = batchesOlderThan === undefined ? undefined : parseDuration(batchesOlderThan);
  const jobsOlderThan = parsed.options.jobsOlderThan as string | undefined;
  const jobsOlderThanMs = jobsOlderThan === undefined ? undefined : parseDuration(jobsOlderThan);
  const dryRun = parsed.options.dryRun === true;
  const store = await ctx.store();
  const line = (verb: string, e: { kind: string; bytes: number; path: string }, why = "") =>
    `${verb.padEnd(12)}  ${e.kind.padEnd(10)}  ${formatBytes(e.bytes).padStart(9)}  ${e.path}${why}`;
  const onEvent = ctx.output.sink((e: GcEvent) => {
    ctx.emit("store", e);
    if (e.event === "collected") ctx.output.note(line(dryRun ? "would remove" : "removed", e));
    else if (e.event === "skipped" && e.reason === "locked") {
      ctx.output.note(line("skipped", e, " (in use by another lode process)"));
    } else if (e.event === "problem" && !ctx.output.json) {
      ctx.output.error(new LodeError("MANIFEST_INVALID", `${e.message}; gc keeps every blob it names`));
    }
  });
  const s = await collectGarbage(store, {
    olderThanMs,
    dryRun,
    quarantine: parsed.options.quarantine === true,
    uploadsOlderThanMs,
    onEvent,
  });
  const { collectBatches } = await import("../../daemon/batch/batch_gc.ts");
  const batches = await collectBatches(store.layout.root, {
    dryRun,
    onEvent,
    ...(batchesOlderThanMs === undefined ? {} : { olderThanMs: batchesOlderThanMs }),
  });
  s.removed += batches.removed;
  s.bytesFreed += batches.bytesFreed;
  let jobsRemoved = 0;
  if (jobsOlderThanMs !== undefined) {
    const { collectJobs } = await import("../../jobs/job_gc.ts");
    const jobs = await collectJobs(store.layout.root, {
      olderThanMs: jobsOlderThanMs,
      dryRun,
      keep: batches.jobsKept,
      onEvent,
    });
    jobsRemoved = jobs.removed;
    s.removed += jobs.removed;
    s.bytesFreed += jobs.bytesFreed;
    s.skippedLocked += jobs.skippedLocked;
  }
  const done: GcDoneEvent = {
    event: "gc_done",
    dry_run: s.dryRun,
    removed: s.removed,
    bytes_freed: s.bytesFreed,
    skipped_locked: s.skippedLocked,
    kept_recent: s.keptRecent,
    quarantine_kept: s.quarantineKept,
    verified_records_pruned: s.verifiedRecordsPruned,
    older_than_ms: olderThanMs,
    batches_older_than_ms: batchesOlderThanMs ?? null,
    jobs_older_than_ms: jobsOlderThanMs ?? null,
    jobs_removed: jobsRemoved,
  };
  ctx.emit("store", done);
  const parts = [
    `${s.dryRun ? "would free" : "freed"} ${formatBytes(s.bytesFreed)} (${s.removed} item${
      s.removed === 1 ? "" : "s"
    })`,
  ];
  if (jobsOlderThanMs !== undefined) {
    parts.push(
      `${jobsRemoved} job record${jobsRemoved === 1 ? "" : "s"} ${s.dryRun ? "would be " : ""}removed`,
    );
  }
  if (s.skippedLocked > 0) parts.push(`${s.skippedLocked} in use by another lode process, skipped`);
  if (s.keptRecent > 0) {
    parts.push(`${s.keptRecent} written in the last ${formatDuration(olderThanMs)}, kept`);
  }
  if (s.quarantineKept.items > 0) {
    parts.push(
      `quarantine holds ${s.quarantineKept.items} item${s.quarantineKept.items === 1 ? "" : "s"} (${
        formatBytes(s.quarantineKept.bytes)
      })${parsed.options.quarantine ? "" : ": --quarantine removes old ones"}`,
    );
  }
  ctx.output.result(parts.join("; "));
}

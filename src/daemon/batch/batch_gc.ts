/**
 * What `lode gc` removes of the Files and Batch APIs' folder (`<store>/openai/`): files whose `expires_at`
 * passed, and with `olderThanMs` the files and the ended batches created longer ago than that — a batch with its
 * record, its output and error files (registered or not) and their fingerprint. A batch has ended when its job
 * has (succeeded, failed, cancelled) or it has none; the input file of a batch not ended is kept whatever its
 * age, as is everything of that batch. A daemon running on the store is not asked: what it reads is gone from
 * its next read (a retrieve of a removed batch is 404).
 *
 * @example
 * ```ts
 * import { collectBatches } from "./batch_gc.ts";
 * const { removed, bytesFreed } = await collectBatches("/srv/models", { olderThanMs: 7 * 86_400_000 });
 * console.log(removed, bytesFreed);
 * ```
 * @module
 */
import type { GcEvent } from "../../events/store_event.ts";
import { isFinished } from "../../events/job_event.ts";
import { isLodeError } from "../../errors.ts";
import { JobRecords } from "../../jobs/job_record.ts";
import { joinPath } from "../../path.ts";
import { fingerprintPath } from "./batch_fingerprint.ts";
import { type BatchRecord, BatchStore } from "./batch_store.ts";
import { fileExpired, FileStore } from "./file_store.ts";

/** Options of {@link collectBatches}. */
export interface BatchGcOptions {
  /** Files and ended batches created longer ago than this go; absent: only expired files. */
  olderThanMs?: number;
  /** Report, change nothing. */
  dryRun?: boolean;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  onEvent?: (event: GcEvent) => void;
}

/** What {@link collectBatches} did. */
export interface BatchGcSummary {
  removed: number;
  bytesFreed: number;
  /** The job ids of the batches left (with `dryRun`, those that would be): gc keeps these jobs. */
  jobsKept: Set<string>;
}

/** Removes what {@link BatchGcOptions} says (see the module doc); the count and bytes removed. */
export async function collectBatches(
  storeRoot: string,
  options: BatchGcOptions = {},
): Promise<BatchGcSummary> {
  const batches = new BatchStore(storeRoot);
  const files = new FileStore(storeRoot);
  const jobs = new JobRecords(storeRoot);
  const now = (options.now ?? Date.now)();
  const nowSeconds = Math.floor(now / 1000);
  const old = (createdAt: number) =>
    options.olderThanMs !== undefined && now - createdAt * 1000 > options.olderThanMs;
  const dryRun = options.dryRun === true;
  const totals: BatchGcSummary = { removed: 0, bytesFreed: 0, jobsKept: new Set() };
  const collected = (kind: "batch" | "file", path: string, bytes: number) => {
    totals.removed++;
    totals.bytesFreed += bytes;
    options.onEvent?.({ event: "collected", kind, path, bytes, dry_run: dryRun });
  };

  const ended = async (record: BatchRecord): Promise<boolean> => {
    if (record.job_id === null) return true;
    try {
      return isFinished((await jobs.read(record.job_id)).state);
    } catch (e) {
      if (isLodeError(e, "JOB_NOT_FOUND")) return true;
      throw e;
    }
  };
  /** Files a batch not ended still needs: its input, and its output and error files. */
  const needed = new Set<string>();
  for (const record of await batches.list()) {
    const keep = () => {
      if (record.job_id !== null) totals.jobsKept.add(record.job_id);
    };
    if (!await ended(record)) {
      needed.add(record.input_file_id).add(record.output_file).add(record.error_file);
      keep();
      continue;
    }
    if (!old(record.created_at)) {
      keep();
      continue;
    }
    let bytes = 0;
    for (const id of [record.output_file, record.error_file]) {
      bytes += await sizeOf(files.dataPath(id));
      if (!dryRun) await removeFile(files, id);
    }
    const path = joinPath(batches.dir, `${record.id}.json`);
    if (!dryRun) await Deno.remove(path).catch(ignoreNotFound);
    collected("batch", path, bytes);
  }
  for (const file of await files.list()) {
    if (needed.has(file.id)) continue;
    if (!fileExpired(file, nowSeconds) && !old(file.created_at)) continue;
    const bytes = await sizeOf(files.dataPath(file.id));
    if (!dryRun) await removeFile(files, file.id);
    collected("file", files.dataPath(file.id), bytes);
  }
  return totals;
}

/** Removes file `id`'s object, bytes and fingerprint, registered or not. */
async function removeFile(files: FileStore, id: string): Promise<void> {
  await Deno.remove(joinPath(files.dir, `${id}.json`)).catch(ignoreNotFound);
  await Deno.remove(files.dataPath(id)).catch(ignoreNotFound);
  await Deno.remove(fingerprintPath(files.dataPath(id))).catch(ignoreNotFound);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

function ignoreNotFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

/**
 * What `lode gc --jobs-older-than DURATION` removes of `<store>/jobs/`: the directory of every job in a
 * finished state (succeeded, failed, cancelled) whose `finished_at` is older than DURATION — its
 * `record.json`, `events.ndjson`, claim and own files — then the index (`index.ndjson`) rewritten with one
 * line per job left. Kept whatever their age:
 *
 * - queued and running jobs (a live process runs them) and interrupted ones (`lode job resume ID` continues
 *   them; `lode job cancel ID` closes one as `cancelled`, which then ages like any finished job);
 * - the jobs named in `keep` (the CLI passes the jobs of the Batch API's batches still in `<store>/openai/`);
 * - a job whose claim another process holds (its runner has recorded it finished and not yet let go):
 *   reported `skipped`, reason `locked`.
 *
 * A job goes under its claim, taken without waiting: its record is read again, then its directory is renamed
 * to `jobs/.gc-<uuid>` (a name `lode job ls` does not list) and removed, so a listing running meanwhile sees
 * the job whole or not at all; a `.gc-*` directory a gc killed meanwhile left is removed by the next one.
 * `dryRun` changes nothing on disk.
 *
 * @example
 * ```ts
 * import { collectJobs } from "./job_gc.ts";
 * const { removed, bytesFreed } = await collectJobs("/srv/models", { olderThanMs: 30 * 86_400_000 });
 * console.log(removed, bytesFreed);
 * ```
 * @module
 */
import type { GcEvent } from "../events/store_event.ts";
import { isFinished } from "../events/job_event.ts";
import { isLodeError, toLodeError } from "../errors.ts";
import { joinPath } from "../path.ts";
import { tryHold } from "../store/gc_scan.ts";
import { claimPath } from "./job_claim.ts";
import { compactIndex } from "./job_index.ts";
import { type JobRecord, JobRecords } from "./job_record.ts";

/** Options of {@link collectJobs}. */
export interface JobGcOptions {
  /** Finished jobs whose `finished_at` is longer ago than this go. */
  olderThanMs: number;
  /** Report, change nothing. */
  dryRun?: boolean;
  /** Ids of jobs kept whatever their state and age. */
  keep?: ReadonlySet<string>;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  onEvent?: (event: GcEvent) => void;
}

/** The totals of {@link collectJobs}. */
export interface JobGcSummary {
  /** Job directories removed (or that would be). */
  removed: number;
  /** Their bytes on disk (allocated blocks). */
  bytesFreed: number;
  /** Jobs left because another process held their claim. */
  skippedLocked: number;
}

/** Removes the jobs {@link JobGcOptions} says (see the module doc). */
export async function collectJobs(storeRoot: string, options: JobGcOptions): Promise<JobGcSummary> {
  const records = new JobRecords(storeRoot);
  const now = (options.now ?? Date.now)();
  const dryRun = options.dryRun === true;
  const totals: JobGcSummary = { removed: 0, bytesFreed: 0, skippedLocked: 0 };
  const old = (record: JobRecord) =>
    isFinished(record.state) && !options.keep?.has(record.id) &&
    now - Date.parse(record.finished_at ?? record.created_at) > options.olderThanMs;

  const { ids, leftovers } = await jobDirs(records);
  for (const path of leftovers) {
    const bytes = await treeBytes(path);
    if (!dryRun) await Deno.remove(path, { recursive: true }).catch(ignoreNotFound);
    totals.removed++;
    totals.bytesFreed += bytes;
    options.onEvent?.({ event: "collected", kind: "job", path, bytes, dry_run: dryRun });
  }
  for (const id of ids) {
    const before = await readOrNull(records, id);
    if (before === null || !old(before)) continue;
    const dir = records.jobDir(id);
    // Probing locks the claim file when there is one and creates none (a directory removed meanwhile stays
    // gone); a job without a claim file has no process running it.
    const hold = await tryHold(claimPath(dir), { label: `job ${id}`, probe: true });
    if (hold === null) {
      totals.skippedLocked++;
      options.onEvent?.({
        event: "skipped",
        kind: "job",
        path: dir,
        bytes: await treeBytes(dir),
        reason: "locked",
        last_write: before.finished_at ?? before.created_at,
      });
      continue;
    }
    try {
      const record = await readOrNull(records, id);
      if (record === null || !old(record)) continue;
      const bytes = await treeBytes(dir);
      if (!dryRun && !await removeDir(records.dir, dir)) continue;
      totals.removed++;
      totals.bytesFreed += bytes;
      options.onEvent?.({ event: "collected", kind: "job", path: dir, bytes, dry_run: dryRun });
    } finally {
      await hold.release().catch(() => {});
    }
  }
  if (!dryRun && totals.removed > 0) await compactIndex(records.dir, await records.list());
  return totals;
}

/** The ids of the job directories, oldest first, and the `.gc-*` directories a gc killed mid-removal left. */
async function jobDirs(records: JobRecords): Promise<{ ids: string[]; leftovers: string[] }> {
  let entries: Deno.DirEntry[];
  try {
    entries = (await Array.fromAsync(Deno.readDir(records.dir))).filter((e) => e.isDirectory);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { ids: [], leftovers: [] };
    throw toLodeError(e, "IO");
  }
  const names = entries.map((e) => e.name).sort();
  return {
    ids: names.filter((n) => !n.startsWith(".")),
    leftovers: names.filter((n) => n.startsWith(".gc-")).map((n) => joinPath(records.dir, n)),
  };
}

/** The settled record of `id`, or null when there is none (removed meanwhile, or not lode's). */
async function readOrNull(records: JobRecords, id: string): Promise<JobRecord | null> {
  try {
    return await records.read(id);
  } catch (e) {
    if (isLodeError(e, "JOB_NOT_FOUND")) return null;
    throw e;
  }
}

/** Renames `dir` out of the listing, then removes it; false when it was gone already. */
async function removeDir(jobsDir: string, dir: string): Promise<boolean> {
  const target = joinPath(jobsDir, `.gc-${crypto.randomUUID()}`);
  try {
    await Deno.rename(dir, target);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw toLodeError(e, "IO");
  }
  await Deno.remove(target, { recursive: true }).catch(ignoreNotFound);
  return true;
}

function ignoreNotFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw toLodeError(e, "IO");
}

/** Bytes on disk (allocated blocks) of the files under `path`; 0 when it is gone. */
async function treeBytes(path: string): Promise<number> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw toLodeError(e, "IO");
  }
  if (!stat.isDirectory) return stat.blocks !== null ? stat.blocks * 512 : stat.size;
  let total = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw toLodeError(e, "IO");
  }
  for (const entry of entries) total += await treeBytes(joinPath(path, entry.name));
  return total;
}

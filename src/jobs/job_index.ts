/**
 * The jobs' summary index, `<store>/jobs/index.ndjson`: a line appended at each write of a record (its id,
 * kind, state, model, times, progress, error, process), so `lode job ls` reads one file instead of every
 * record. The records stay the truth: a job the index lacks, or whose last line there is not a finished
 * state, is read from its record; the index is rewritten compact when it holds many more lines than jobs
 * (a line appended meanwhile and lost is recovered the same way, from the record).
 * @module
 */
import { joinPath } from "../path.ts";
import { writeFileAtomic } from "../store/atomic_write.ts";
import { isFinished, type JobProgress, type JobState } from "../events/job_event.ts";

/** What `lode job ls` shows of a job. */
export interface JobSummary {
  id: string;
  kind: string;
  state: JobState;
  model: string;
  created_at: string;
  finished_at: string | null;
  progress: JobProgress;
  error: { code: string; message: string } | null;
  pid: number | null;
  pid_start: string | null;
}

/** The fields of a job record a summary takes. */
export interface SummarySource extends Omit<JobSummary, "model" | "error"> {
  plan: { metadata: Record<string, string> };
  error: { code: string; message: string; hint?: string } | null;
}

/** The summary of a record. */
export function summaryOf(record: SummarySource): JobSummary {
  return {
    id: record.id,
    kind: record.kind,
    state: record.state,
    model: record.plan.metadata["model.name"] ?? "",
    created_at: record.created_at,
    finished_at: record.finished_at,
    progress: record.progress,
    error: record.error === null ? null : { code: record.error.code, message: record.error.message },
    pid: record.pid,
    pid_start: record.pid_start,
  };
}

/** The path of the index of the jobs in `dir`. */
export function indexPath(dir: string): string {
  return joinPath(dir, "index.ndjson");
}

/** Appends `record`'s summary to the index (one write of one line, in append mode). */
export async function appendSummary(dir: string, record: SummarySource): Promise<void> {
  await Deno.writeTextFile(indexPath(dir), JSON.stringify(summaryOf(record)) + "\n", { append: true });
}

/** The index: the last summary of each id, and how many lines it has. */
export function readIndex(dir: string): { summaries: Map<string, JobSummary>; lines: number } {
  const summaries = new Map<string, JobSummary>();
  let text: string;
  try {
    text = Deno.readTextFileSync(indexPath(dir));
  } catch {
    return { summaries, lines: 0 };
  }
  let lines = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    lines++;
    try {
      const s = JSON.parse(line) as JobSummary;
      if (typeof s.id === "string" && typeof s.state === "string") summaries.set(s.id, s);
    } catch { /* a torn line: the record is read instead */ }
  }
  return { summaries, lines };
}

/** True when the index's summary of a job can stand for its record: a finished state never changes. */
export function summaryFinal(s: JobSummary | undefined): s is JobSummary {
  return s !== undefined && isFinished(s.state);
}

/** Rewrites the index with one line per job. */
export async function compactIndex(dir: string, summaries: JobSummary[]): Promise<void> {
  await writeFileAtomic(indexPath(dir), summaries.map((s) => JSON.stringify(s) + "\n").join(""));
}

/**
 * Job records on disk: `<store>/jobs/<id>/record.json` (written whole, atomically: a temp file renamed
 * over) and `<store>/jobs/<id>/events.ndjson` (appended as the job runs). A record whose state is
 * `queued` or `running` while the process it names (pid and that process's start time) is gone reads
 * as `interrupted`.
 *
 * @example
 * ```ts
 * import { JobRecords } from "./job_record.ts";
 * const records = new JobRecords("/srv/models");
 * for (const s of await records.list()) console.log(s.id, s.state);
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "../errors.ts";
import { joinPath } from "../path.ts";
import { writeFileAtomic } from "../store/atomic_write.ts";
import { readJsonFile } from "../store/json_file.ts";
import { JobArtifact, JobEvent, JobProgress, JobState } from "../events/job_event.ts";
import { JobPlan } from "./job_plan.ts";
import {
  appendSummary,
  compactIndex,
  type JobSummary,
  readIndex,
  summaryFinal,
  summaryOf,
} from "./job_index.ts";
import { processAlive, processStart } from "./process_alive.ts";

/** The record of one job. */
export const JobRecord = z.object({
  schema_version: z.literal(1),
  id: z.string(),
  kind: z.string(),
  plan: JobPlan,
  state: JobState,
  /** The directory the job's relative paths start from. */
  cwd: z.string(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  progress: JobProgress,
  result: z.unknown().nullable(),
  artifacts: z.array(JobArtifact),
  diagnostics: z.array(z.string()),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).nullable(),
  /** The process running the job, and its start time (so a reused pid is not taken for it). */
  pid: z.number().int().nullable(),
  pid_start: z.string().nullable(),
  /** How many times it was started (a resume adds one). */
  attempts: z.number().int().nonnegative(),
  /** The inference socket of the daemon running the job, when a daemon runs it (it is cancelled there). */
  daemon_socket: z.string().optional(),
});
export type JobRecord = z.infer<typeof JobRecord>;

const ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** A new job id: time-ordered (base-36 milliseconds) with a random tail. */
export function newJobId(now = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(3));
  return `${now.toString(36).padStart(9, "0")}-${
    [...random].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** The jobs of one store. */
export class JobRecords {
  /** `<store>/jobs`. */
  readonly dir: string;

  constructor(storeRoot: string) {
    this.dir = joinPath(storeRoot, "jobs");
  }

  /** The directory of job `id`. */
  jobDir(id: string): string {
    return joinPath(this.dir, id);
  }

  #recordPath(id: string): string {
    return joinPath(this.jobDir(id), "record.json");
  }

  /** A new `queued` record of `plan`, owned by this process (a daemon: its socket), written to disk. */
  async create(
    plan: JobPlan,
    cwd: string,
    now = new Date(),
    options: { daemonSocket?: string } = {},
  ): Promise<JobRecord> {
    const record: JobRecord = {
      schema_version: 1,
      id: newJobId(now.getTime()),
      kind: plan.kind,
      plan,
      state: "queued",
      cwd,
      created_at: now.toISOString(),
      started_at: null,
      finished_at: null,
      progress: { unit: plan.progress_unit, done: 0, total: null },
      result: null,
      artifacts: [],
      diagnostics: [],
      error: null,
      pid: Deno.pid,
      pid_start: await processStart(Deno.pid),
      attempts: 0,
      ...(options.daemonSocket !== undefined ? { daemon_socket: options.daemonSocket } : {}),
    };
    await Deno.mkdir(this.jobDir(record.id), { recursive: true });
    await this.write(record);
    return record;
  }

  /** Writes `record` whole (temp file, rename), then appends its summary to the index. */
  async write(record: JobRecord): Promise<void> {
    await writeFileAtomic(
      this.#recordPath(record.id),
      JSON.stringify(record, null, 2) + "\n",
    );
    await appendSummary(this.dir, record);
  }

  /** Appends `event` to the job's `events.ndjson`. */
  async append(event: JobEvent): Promise<void> {
    await Deno.writeTextFile(joinPath(this.jobDir(event.id), "events.ndjson"), JSON.stringify(event) + "\n", {
      append: true,
    });
  }

  /** Closes `record` (a job no process runs any more) as `cancelled`: its event appended, the record written. */
  async closeCancelled(record: JobRecord): Promise<JobRecord> {
    const at = new Date().toISOString();
    const error = { code: "CANCELLED", message: `job ${record.id} was cancelled` };
    const done: JobRecord = { ...record, state: "cancelled", finished_at: at, error };
    await this.append({
      event: "job_state",
      id: record.id,
      kind: record.kind,
      at,
      state: "cancelled",
      error,
    });
    await this.write(done);
    return done;
  }

  /**
   * The events of job `id` in order (at most `limit`), as `events.ndjson` holds them; a line that is not a
   * job event (a torn last line of a process that died mid-write) is skipped.
   */
  async readEvents(id: string, limit = Infinity): Promise<JobEvent[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(joinPath(this.jobDir(id), "events.ndjson"));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    const out: JobEvent[] = [];
    for (const line of text.split("\n")) {
      if (out.length >= limit) break;
      if (line === "") continue;
      try {
        const parsed = JobEvent.safeParse(JSON.parse(line));
        if (parsed.success) out.push(parsed.data);
      } catch {
        // not a whole line
      }
    }
    return out;
  }

  /** The record of `id` as it stands (`interrupted` when its process died); `JOB_NOT_FOUND` when there is none. */
  async read(id: string): Promise<JobRecord> {
    const record = ID.test(id) ? await this.#load(this.#recordPath(id)) : null;
    if (record === null) {
      throw new LodeError("JOB_NOT_FOUND", `no job with id "${id}" in ${this.dir}`, { details: { id } });
    }
    return await this.#settle(record);
  }

  /**
   * A summary of every job, oldest first (ids sort by time), states settled as in {@link read}: read from
   * the index (`job_index.ts`), and from its record for a job the index lacks or shows unfinished.
   */
  async list(): Promise<JobSummary[]> {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(this.dir)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    const ids = entries.filter((e) => e.isDirectory && ID.test(e.name)).map((e) => e.name).sort();
    const index = readIndex(this.dir);
    const out: JobSummary[] = [];
    for (const id of ids) {
      const known = index.summaries.get(id);
      if (summaryFinal(known)) {
        out.push(known);
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(Deno.readTextFileSync(this.#recordPath(id)));
      } catch {
        continue; // not there yet (a job being created), or not lode's
      }
      if (hasRecordShape(json, id)) out.push(summaryOf(await this.#settle(json)));
    }
    if (index.lines > 2 * out.length + 64) await compactIndex(this.dir, out).catch(() => {});
    return out;
  }

  /**
   * `record` with `interrupted` for a queued or running job whose process is gone. Once the process is found
   * gone the record is read again: a process that wrote its last state (`cancelled`, `succeeded`) and exited
   * between the first read and the check did not die mid-run.
   */
  async #settle(record: JobRecord): Promise<JobRecord> {
    if (!unfinished(record)) return record;
    if (record.pid !== null && await processAlive(record.pid, record.pid_start)) return record;
    const now = (await this.#load(this.#recordPath(record.id))) ?? record;
    if (!unfinished(now)) return now;
    if (now.pid !== null && now.pid !== record.pid && await processAlive(now.pid, now.pid_start)) return now;
    return { ...now, state: "interrupted" };
  }

  #load(path: string): Promise<JobRecord | null> {
    return readJsonFile(path, JobRecord); // a record is written whole (renamed over): a broken one is not lode's
  }
}

const STATES: ReadonlySet<unknown> = new Set(JobState.options);

/** True when `json` looks like the record of job `id`: the fields listing and its text use. */
function hasRecordShape(json: unknown, id: string): json is JobRecord {
  if (json === null || typeof json !== "object") return false;
  const r = json as Record<string, unknown>;
  return r.schema_version === 1 && r.id === id && typeof r.kind === "string" && STATES.has(r.state) &&
    typeof r.plan === "object" && r.plan !== null && typeof r.progress === "object" && r.progress !== null &&
    Array.isArray(r.artifacts) && (r.pid === null || typeof r.pid === "number");
}

function unfinished(record: JobRecord): boolean {
  return record.state === "queued" || record.state === "running";
}

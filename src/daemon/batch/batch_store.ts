/**
 * The batches of the OpenAI Batch API, kept in the store's directory beside their files:
 * `<store>/openai/batches/<id>.json`, one record a batch, written whole (temp + rename). A record holds
 * what the batch was created with, the `model-batch-inference` job that runs it (`<store>/jobs/<job>/`),
 * the ids reserved for its output and error files, and what the job's record cannot tell: problems found
 * before any job ran, when a cancel was asked for, when it expired, whether its files were registered, and
 * (once it ended) the tokens its answers used.
 *
 * @example
 * ```ts
 * import { BatchStore } from "./batch_store.ts";
 * const batches = new BatchStore("/srv/models");
 * for (const b of await batches.list()) console.log(b.id, b.job_id);
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "../../errors.ts";
import { joinPath } from "../../path.ts";
import { readJsonFile } from "../../store/json_file.ts";
import { writeFileAtomic } from "../../store/atomic_write.ts";
import { BatchUsage } from "./batch_usage.ts";

/** One problem of a batch, as OpenAI lists it in `errors.data`. */
export const BatchError = z.object({
  code: z.string(),
  message: z.string(),
  param: z.string().nullable(),
  line: z.number().int().nullable(),
});
export type BatchError = z.infer<typeof BatchError>;

/** The record of one batch. */
export const BatchRecord = z.object({
  id: z.string(),
  input_file_id: z.string(),
  endpoint: z.string(),
  completion_window: z.string(),
  metadata: z.record(z.string(), z.string()).nullable(),
  /** The model of its requests (null when the input did not name one). */
  model: z.string().nullable(),
  /** Unix seconds. */
  created_at: z.number().int(),
  /** Requests in the input file (0 when it was refused before they were counted). */
  total: z.number().int().nonnegative(),
  /** The job running it; null when the input was refused before a job was submitted. */
  job_id: z.string().nullable(),
  /** Ids its output and error files get once the batch ends (the job writes their bytes before). */
  output_file: z.string(),
  error_file: z.string(),
  /** Problems found before a job ran (the batch is `failed`). */
  errors: z.array(BatchError).nullable(),
  /** Unix seconds: a cancel asked for; the batch expired. */
  cancelling_at: z.number().int().nullable(),
  expired_at: z.number().int().nullable(),
  /** Set once the batch ended and its files were registered: which of them exist. */
  finalized: z.object({ output: z.boolean(), error: z.boolean() }).nullable(),
  /** The tokens of its answered requests, kept once it ended (while it runs its job's progress has them). */
  usage: BatchUsage.nullable().default(null),
  /** `output_expires_after.seconds` of its create: its output and error files expire that long after they are made. */
  output_expires_after_seconds: z.number().int().positive().nullable().default(null),
});
export type BatchRecord = z.infer<typeof BatchRecord>;

const ID = /^batch_[0-9a-z]{9}[0-9a-f]{16}$/;

/**
 * A new batch id: `batch_` and a time-ordered tail, so ids sort by creation.
 *
 * @example
 * ```ts
 * newBatchId(0).startsWith("batch_000000000"); // true
 * ```
 */
export function newBatchId(now = Date.now()): string {
  const random = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0"));
  return `batch_${now.toString(36).padStart(9, "0")}${random.join("")}`;
}

/** `JOB_NOT_FOUND` (404 on the HTTP front) for batch `id`, in OpenAI's words. */
export function noSuchBatch(id: string): LodeError {
  return new LodeError("JOB_NOT_FOUND", `No batch found with id '${id}'`, {
    details: { field: "batch_id", id },
    hint: "GET /v1/batches lists the batches this server keeps.",
  });
}

/** The batch records of one store. */
export class BatchStore {
  /** `<store>/openai/batches`. */
  readonly dir: string;

  constructor(storeRoot: string) {
    this.dir = joinPath(storeRoot, "openai", "batches");
  }

  /** Writes `record` whole. */
  async write(record: BatchRecord): Promise<void> {
    await writeFileAtomic(joinPath(this.dir, `${record.id}.json`), JSON.stringify(record, null, 2) + "\n");
  }

  /** The record of batch `id`; `JOB_NOT_FOUND` (404) when there is none. */
  async get(id: string): Promise<BatchRecord> {
    const found = ID.test(id) ? await this.#read(joinPath(this.dir, `${id}.json`)) : null;
    if (found === null) throw noSuchBatch(id);
    return found;
  }

  /** Every batch, oldest first. */
  async list(): Promise<BatchRecord[]> {
    const out: BatchRecord[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        if (!entry.isFile || !entry.name.endsWith(".json") || !ID.test(entry.name.slice(0, -5))) continue;
        const record = await this.#read(joinPath(this.dir, entry.name));
        if (record !== null) out.push(record);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return out.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  #read(path: string): Promise<BatchRecord | null> {
    return readJsonFile(path, BatchRecord);
  }
}

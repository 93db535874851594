/**
 * A batch's output and error files, written as results finish and read back to resume. Each result is one
 * JSON line appended with one write (so a process killed after it keeps it) and the files are synced to
 * disk at most every {@link SYNC_EVERY_MS} and when closed. Opening reads what an earlier run wrote: a last
 * line cut short (the process died mid-write, or the disk filled) is cut off, and every `custom_id` of a
 * whole line is answered — in the output (a success) or in the error file (a failure). `retryErrors`
 * empties the error file so its requests run again; `restart` empties both.
 *
 * @example
 * ```ts
 * import { openBatchFiles } from "./batch_files.ts";
 * const files = await openBatchFiles({ output: "out.jsonl", errors: "out.errors.jsonl" });
 * files.answered.has("request-1"); // answered by an earlier run
 * await files.write({ id: "batch_req_1", custom_id: "request-1", response: null, error: null }, false);
 * await files.close();
 * ```
 * @module
 */
import { writeError } from "../../errors.ts";
import { writeAll } from "../../store/atomic_write.ts";
import { addUsage, type BatchUsage, noUsage, usageOfLine } from "./batch_usage.ts";

/** What to do when a batch's output or error file does not fit on its disk. */
const SPACE_HINT =
  "Free space on that disk, then run the same command again: the answers written so far are kept and only " +
  "the requests not answered yet run.";

/** Most milliseconds between two syncs of the files while results are written. */
export const SYNC_EVERY_MS = 1000;

/** One line of the output or error file, as OpenAI writes them. */
export interface BatchResultLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string } | null;
}

/** Options of {@link openBatchFiles}. */
export interface BatchFilesOptions {
  output: string;
  errors: string;
  /** Discard both files' lines. */
  restart?: boolean;
  /** Discard the error file's lines, so their requests run again. */
  retryErrors?: boolean;
}

/** The open files of a batch. */
export interface BatchFiles {
  /** The `custom_id`s answered by an earlier run (either file). */
  readonly answered: ReadonlySet<string>;
  /** How many of them failed (lines of the error file kept). */
  readonly failedBefore: number;
  /** True when either file held a line before (an earlier run wrote it). */
  readonly resumed: boolean;
  /** The tokens of the output's answers written by an earlier run (batch_usage.ts). */
  readonly usageBefore: BatchUsage;
  /** Appends `line` to the error file when `failed`, else to the output. */
  write(line: BatchResultLine, failed: boolean): Promise<void>;
  /** Syncs and closes both files. Idempotent. */
  close(): Promise<void>;
}

/** Opens (creating) the output and error files, reading and repairing what they hold. */
export async function openBatchFiles(options: BatchFilesOptions): Promise<BatchFiles> {
  const output = await openLog(options.output, options.restart === true);
  let errors: Log;
  try {
    errors = await openLog(options.errors, options.restart === true || options.retryErrors === true);
  } catch (e) {
    output.file.close();
    throw e;
  }
  const answered = new Set([...output.ids, ...errors.ids]);
  let lastSync = performance.now();
  let dirty = false;
  let closed: Promise<void> | undefined;
  let writing = Promise.resolve();
  const sync = async () => {
    dirty = false;
    lastSync = performance.now();
    await Promise.all([output.file.syncData(), errors.file.syncData()]);
  };
  return {
    answered,
    failedBefore: errors.ids.size,
    resumed: output.ids.size + errors.ids.size > 0,
    usageBefore: output.usage,
    write(line, failed) {
      // One write at a time: two lines are never interleaved.
      const bytes = new TextEncoder().encode(JSON.stringify(line) + "\n");
      const log = failed ? errors : output;
      const turn = writing.then(async () => {
        await writeAll(log.file, bytes);
        dirty = true;
        if (performance.now() - lastSync >= SYNC_EVERY_MS) await sync();
      }).catch((e) => {
        throw writeError(e, log.path, SPACE_HINT);
      });
      writing = turn.catch(() => {});
      return turn;
    },
    close() {
      closed ??= (async () => {
        try {
          await writing;
          if (dirty) await sync();
        } finally {
          output.file.close();
          errors.file.close();
        }
      })();
      return closed;
    },
  };
}

interface Log {
  path: string;
  file: Deno.FsFile;
  ids: Set<string>;
  /** The usage its whole lines carry. */
  usage: BatchUsage;
}

/** Opens `path` for appending after its last whole line (a cut-off tail is truncated), emptied when `empty`. */
async function openLog(path: string, empty: boolean): Promise<Log> {
  const ids = new Set<string>();
  let usage = noUsage();
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (e) {
    throw writeError(e, path, SPACE_HINT);
  }
  try {
    if (empty) {
      await file.truncate(0);
      return { path, file, ids, usage };
    }
    const bytes = await readAll(file);
    let keep = 0;
    let start = 0;
    const decoder = new TextDecoder();
    while (start < bytes.length) {
      const end = bytes.indexOf(0x0a, start);
      if (end === -1) break; // no newline: cut short
      const parsed = parseLine(decoder.decode(bytes.subarray(start, end)));
      if (parsed === null) break; // a broken line: it and what follows were not written whole
      ids.add(parsed.id);
      usage = addUsage(usage, usageOfLine(parsed.line));
      start = end + 1;
      keep = start;
    }
    if (keep < bytes.length) await file.truncate(keep);
    await file.seek(keep, Deno.SeekMode.Start);
    return { path, file, ids, usage };
  } catch (e) {
    file.close();
    throw writeError(e, path, SPACE_HINT);
  }
}

/** A whole line and its `custom_id`; null for a line that is not one. */
function parseLine(text: string): { id: string; line: unknown } | null {
  try {
    const value = JSON.parse(text) as { custom_id?: unknown };
    return typeof value?.custom_id === "string" ? { id: value.custom_id, line: value } : null;
  } catch {
    return null;
  }
}

async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  const { size } = await file.stat();
  const bytes = new Uint8Array(size);
  let read = 0;
  await file.seek(0, Deno.SeekMode.Start);
  while (read < size) {
    const n = await file.read(bytes.subarray(read));
    if (n === null) break;
    read += n;
  }
  return bytes.subarray(0, read);
}

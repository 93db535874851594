/**
 * What a batch's answers depend on — the model's name and digest, the input file's SHA-256 (every request's
 * body and sampling fields), and the context each request gets — kept beside the output as
 * `OUTPUT.lode-batch.json` when the batch starts. A later run with the same output continues the batch only
 * when its fingerprint is the same; otherwise it is refused with `BATCH_CHANGED` naming what changed
 * (`restart` starts over). An output that holds lines but no fingerprint was not written by a batch: also
 * `BATCH_CHANGED`.
 *
 * @example
 * ```ts
 * import { checkFingerprint, type BatchFingerprint } from "./batch_fingerprint.ts";
 * const now: BatchFingerprint = { model: "m", model_sha256: "ab", input_sha256: "cd", context_size: 512 };
 * await checkFingerprint("out.jsonl", now, { hasAnswers: false, restart: false });
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import { writeFileAtomic } from "../../store/atomic_write.ts";

/** What a batch's answers depend on. */
export interface BatchFingerprint {
  model: string;
  model_sha256: string;
  input_sha256: string;
  /** Tokens of context each request gets (null: the model's default). */
  context_size: number | null;
}

/** The file beside `output` that holds its batch's fingerprint. */
export function fingerprintPath(output: string): string {
  return `${output}.lode-batch.json`;
}

/**
 * Refuses with `BATCH_CHANGED` a batch whose output holds answers (`hasAnswers`) of another fingerprint,
 * unless `restart`; then records `now` as the output's fingerprint.
 */
export async function checkFingerprint(
  output: string,
  now: BatchFingerprint,
  options: { hasAnswers: boolean; restart: boolean },
): Promise<void> {
  const path = fingerprintPath(output);
  if (options.hasAnswers && !options.restart) {
    const before = await readFingerprint(path);
    if (before === null) {
      throw new LodeError(
        "BATCH_CHANGED",
        `${output} holds lines that no lode batch wrote (there is no ${path})`,
        { details: { output, fingerprint: path } },
      );
    }
    const changed = (Object.keys(now) as (keyof BatchFingerprint)[]).filter((k) => before[k] !== now[k]);
    if (changed.length > 0) {
      throw new LodeError(
        "BATCH_CHANGED",
        `${output} holds answers of another batch: its ${changed.join(", ")} changed since`,
        { details: { output, changed, before, now } },
      );
    }
  }
  await writeFileAtomic(path, JSON.stringify({ schema_version: 1, ...now }, null, 2) + "\n");
}

async function readFingerprint(path: string): Promise<BatchFingerprint | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const v = JSON.parse(text) as Partial<BatchFingerprint>;
    return {
      model: String(v.model),
      model_sha256: String(v.model_sha256),
      input_sha256: String(v.input_sha256),
      context_size: typeof v.context_size === "number" ? v.context_size : null,
    };
  } catch {
    return null;
  }
}

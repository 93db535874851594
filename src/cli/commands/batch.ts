/**
 * `lode batch INPUT -o OUTPUT [--model M]`: a model-batch-inference job. Its spec's paths are relative to
 * the deepest directory holding the input, output and error files (a spec path never starts with `/` nor
 * holds `..`). Through the daemon of this store when one runs (or the one on `--socket`; `--no-daemon`
 * never): the job is submitted there and followed until it ends, Ctrl-C cancels it (its answers kept).
 * Otherwise it is recorded under `$MODELS_HOME/jobs/` and runs in this process, the model loaded with
 * `--parallel` sequences; Ctrl-C or SIGTERM cancels it, keeping every finished answer. Running the same
 * command again continues the batch. `--json` prints the job's events (NDJSON) and its final record.
 * @module
 */
import process from "node:process";
import { ERROR_CODES, LodeError } from "../../errors.ts";
import type { JobEvent } from "../../events/job_event.ts";
import type { JobRecord } from "../../jobs/job_record.ts";
import type { SpecOf } from "../../jobs/job_spec.ts";
import { joinPath } from "../../path.ts";
import type { ParsedArgv } from "../args.ts";
import { batchProgressRenderer, type BatchResultText, batchSummaryLines } from "../batch_text.ts";
import type { CommandContext } from "../context.ts";
import { parseLoadFlags } from "../inference_flags.ts";

/** `lode batch`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const o = parsed.options;
  const output = o.output as string | undefined;
  if (output === undefined) {
    throw new LodeError("USAGE", "lode batch needs -o OUTPUT: the file the answers go to");
  }
  const parallel = count("--parallel", o.parallel, 64);
  const contextSize = count("--ctx-size", o.ctxSize, Number.MAX_SAFE_INTEGER);
  const load = parseLoadFlags({ ...o, ctxSize: undefined });
  const { base, paths } = relativeTo([parsed.args.input as string, output, o.errors as string | undefined]);
  const model = o.model as string | undefined;
  const spec = {
    model: model ?? await modelOfBodies(joinPath(base, paths[0]!)),
    inputs: paths[0]!,
    output: paths[1]!,
    ...(paths[2] === undefined ? {} : { errors: paths[2] }),
    ...(parallel === undefined ? {} : { parallel }),
    ...(contextSize === undefined ? {} : { context_size: contextSize }),
    ...(o.restart === true ? { restart: true } : {}),
    ...(o.retryErrors === true ? { retry_errors: true } : {}),
  } satisfies Omit<SpecOf<"model-batch-inference">, "kind">;
  const renderer = batchProgressRenderer(ctx);
  const stopRendering = ctx.events.listen((e) => {
    if (e.source === "job" && e.event.event === "job_progress") renderer.show(e.event.progress);
  });
  let outcome: { record: JobRecord; error: LodeError | null };
  try {
    const { batchInDaemon } = await import("../batch_daemon.ts");
    const inDaemon = o.daemon === false
      ? null
      : await batchInDaemon(ctx, spec, base, o.socket as string | undefined);
    outcome = inDaemon === null ? await batchHere(ctx, spec, base, load) : { record: inDaemon, error: null };
  } finally {
    stopRendering();
    renderer.stop();
  }
  const { record, error } = outcome;
  ctx.output.event({ event: "job", ...record });
  if (record.state === "cancelled") throw failure(record);
  if (record.state !== "succeeded") throw error ?? failure(record);
  for (const line of batchSummaryLines(record.result as BatchResultText)) ctx.output.result(line);
}

/** Runs the batch as a job of this process. */
async function batchHere(
  ctx: CommandContext,
  spec: Omit<SpecOf<"model-batch-inference">, "kind">,
  base: string,
  load: ReturnType<typeof parseLoadFlags>,
): Promise<{ record: JobRecord; error: LodeError | null }> {
  const [{ runJob }, { JobRecords }, { claimJob }, { planJob }, { parseJobSpec }, { cliBatchEffect }] =
    await Promise
      .all([
        import("../../jobs/job_runner.ts"),
        import("../../jobs/job_record.ts"),
        import("../../jobs/job_claim.ts"),
        import("../../jobs/job_plan.ts"),
        import("../../jobs/job_spec.ts"),
        import("../batch_effect.ts"),
      ]);
  const records = new JobRecords(ctx.config.storeRoot);
  const created = await records.create(planJob(parseJobSpec("model-batch-inference", spec)), base);
  await using _claim = await claimJob(records.jobDir(created.id));
  const controller = new AbortController();
  // Node listeners, not Deno's: node-llama-cpp's signal-exit re-raises a signal no `process` listener takes.
  const cancel = () => controller.abort();
  process.on("SIGINT", cancel);
  process.on("SIGTERM", cancel);
  ctx.output.note(`job ${created.id} (model-batch-inference) running`);
  try {
    return await runJob(created, {
      records,
      store: await ctx.store(),
      signal: AbortSignal.any([controller.signal, ctx.output.closed]),
      onEvent: (e: JobEvent) => void ctx.events.publish("job", e, { jobId: created.id }),
      effects: { batch: cliBatchEffect(ctx, load) },
    });
  } finally {
    process.off("SIGINT", cancel);
    process.off("SIGTERM", cancel);
  }
}

/** The error of a batch job that did not succeed. */
function failure(record: JobRecord): LodeError {
  const error = record.error ?? { code: "INTERNAL", message: `job ${record.id} ended ${record.state}` };
  if (record.state === "cancelled") {
    return new LodeError("CANCELLED", `the batch (job ${record.id}) was cancelled`, {
      details: { id: record.id, progress: record.progress },
      hint: "Every finished answer is kept: run the same command again to continue.",
    });
  }
  const code = error.code in ERROR_CODES ? error.code as keyof typeof ERROR_CODES : "INTERNAL";
  return new LodeError(code, error.message, {
    details: { id: record.id, state: record.state },
    ...(error.hint ? { hint: error.hint } : {}),
  });
}

/** A positive integer flag up to `max`, or undefined when absent. */
function count(flag: string, value: unknown, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new LodeError("USAGE", `${flag} must be a whole number from 1 to ${max}, got "${String(value)}"`);
  }
  return n;
}

/**
 * The deepest directory holding every given path (resolved from the current directory), and each path
 * relative to it.
 */
export function relativeTo(
  given: (string | undefined)[],
  cwd = Deno.cwd(),
): { base: string; paths: (string | undefined)[] } {
  const absolute = given.map((p) =>
    p === undefined ? undefined : normalise(p.startsWith("/") ? p : `${cwd}/${p}`)
  );
  const dirs = absolute.filter((p) => p !== undefined).map((p) => p!.split("/").slice(0, -1));
  let common = dirs[0] ?? [""];
  for (const d of dirs.slice(1)) {
    let i = 0;
    while (i < common.length && i < d.length && common[i] === d[i]) i++;
    common = common.slice(0, i);
  }
  const base = common.join("/") || "/";
  const prefix = base === "/" ? "/" : `${base}/`;
  return { base, paths: absolute.map((p) => p === undefined ? undefined : p.slice(prefix.length)) };
}

function normalise(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** The model the first request's body names (the input is checked whole later), for a batch without `--model`. */
async function modelOfBodies(input: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(input);
  } catch (e) {
    throw new LodeError("FILE_NOT_FOUND", `cannot read the batch input ${input}: ${(e as Error).message}`, {
      details: { path: input },
      cause: e,
    });
  }
  let text: string;
  try {
    const bytes = new Uint8Array(1024 * 1024);
    const n = await file.read(bytes);
    text = new TextDecoder().decode(bytes.subarray(0, n ?? 0));
  } finally {
    file.close();
  }
  for (const line of text.split("\n")) {
    try {
      const model = (JSON.parse(line) as { body?: { model?: unknown } }).body?.model;
      if (typeof model === "string" && model !== "") return model;
    } catch { /* a bad line is told by the job */ }
  }
  throw new LodeError("USAGE", "lode batch needs --model: the first requests' bodies name none");
}

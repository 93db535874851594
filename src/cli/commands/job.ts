/**
 * `lode job plan KIND | run KIND | ls | show ID | watch ID | cancel ID | resume ID`: jobs without a daemon. `plan`
 * prints a job's pure plan; `run` records it under `$MODELS_HOME/jobs/<id>/` and runs it in this process
 * (SIGINT or SIGTERM cancels it); `ls` and `show` read the records; `watch` follows a job's events file; `cancel` sends SIGTERM to the process
 * running a job and waits for its record to say `cancelled`; `resume` runs an interrupted job again from
 * its record (a download continues from its partial). The runner and the download engine are loaded
 * only by `run` and `resume`.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { isFinished } from "../../events/job_event.ts";
import { planJob } from "../../jobs/job_plan.ts";
import { type JobRecord, JobRecords } from "../../jobs/job_record.ts";
import { parseJobSpec } from "../../jobs/job_spec.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { JOB_LS_HEADER, jobLine, planLines, progressText, recordLines } from "../job_text.ts";

const ACTIONS = "plan KIND | run KIND | ls | show ID | watch ID | cancel ID | resume ID";

/** `lode job`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const action = parsed.args.action as string;
  const target = parsed.args.target as string | undefined;
  const needs = (what: string) => {
    if (target === undefined) throw new LodeError("USAGE", `lode job ${action} needs ${what}`);
    return target;
  };
  const spec = parsed.options.spec as string | undefined;
  if (spec !== undefined && action !== "plan" && action !== "run") {
    throw new LodeError("USAGE", "--spec applies to `lode job plan` and `lode job run`");
  }
  const records = new JobRecords(ctx.config.storeRoot);
  switch (action) {
    case "plan": {
      const plan = planJob(
        parseJobSpec(needs("a kind: lode job plan KIND --spec JSON"), await readSpec(spec)),
      );
      ctx.output.event({ event: "job_plan", ...plan });
      for (const line of planLines(plan)) ctx.output.result(line);
      return;
    }
    case "run": {
      const plan = planJob(
        parseJobSpec(needs("a kind: lode job run KIND --spec JSON"), await readSpec(spec)),
      );
      const record = await records.create(plan, Deno.cwd());
      return await execute(ctx, records, record);
    }
    case "ls":
    case "list": {
      if (target !== undefined) throw new LodeError("USAGE", "lode job ls takes no argument");
      const all = await records.list();
      for (const r of all) ctx.output.event({ event: "job", ...r });
      if (all.length === 0) ctx.output.note(`no jobs in ${records.dir}`);
      else ctx.output.result(JOB_LS_HEADER);
      for (const r of all) ctx.output.result(jobLine(r));
      return;
    }
    case "show": {
      const r = await records.read(needs("a job id: lode job show ID"));
      ctx.output.event({ event: "job", ...r });
      for (const line of recordLines(r)) ctx.output.result(line);
      return;
    }
    case "cancel":
      return await cancel(ctx, records, needs("a job id: lode job cancel ID"));
    case "watch": {
      const { watchJob } = await import("../job_watch.ts");
      const r = await watchJob(ctx, records, needs("a job id: lode job watch ID"));
      ctx.output.event({ event: "job", ...r });
      ctx.output.result(`job ${r.id} ${r.state}`);
      return;
    }
    case "resume": {
      const r = await records.read(needs("a job id: lode job resume ID"));
      if (r.state !== "interrupted" || !r.plan.resumable) {
        throw new LodeError(
          isFinished(r.state) ? "JOB_FINISHED" : "JOB_NOT_RESUMABLE",
          r.state === "interrupted"
            ? `job ${r.id} (${r.kind}) cannot resume: a ${r.kind} job starts over`
            : `job ${r.id} is ${r.state}: only an interrupted job resumes`,
          { details: { id: r.id, kind: r.kind, state: r.state } },
        );
      }
      return await execute(ctx, records, r);
    }
    default:
      throw new LodeError("USAGE", `unknown job action "${action}": lode job ${ACTIONS}`);
  }
}

/** The spec of `--spec`: JSON text, or `@FILE` holding it; none is `{}`. */
async function readSpec(spec: string | undefined): Promise<unknown> {
  if (spec === undefined) return {};
  let text = spec;
  if (spec.startsWith("@")) {
    try {
      text = await Deno.readTextFile(spec.slice(1));
    } catch (e) {
      throw new LodeError(
        "FILE_NOT_FOUND",
        `cannot read the job spec ${spec.slice(1)}: ${(e as Error).message}`,
        {
          details: { path: spec.slice(1) },
        },
      );
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LodeError("JOB_SPEC_INVALID", `the job spec is not JSON: ${(e as Error).message}`, {
      details: { spec: text.slice(0, 200) },
    });
  }
}

/** Runs `record` here: SIGINT and SIGTERM cancel it; its events are printed with --json. */
async function execute(ctx: CommandContext, records: JobRecords, record: JobRecord): Promise<void> {
  const [{ runJob }, { cliJobEffects }] = await Promise.all([
    import("../../jobs/job_runner.ts"),
    import("../job_effects.ts"),
  ]);
  const controller = new AbortController();
  const cancel = () => controller.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, cancel);
  ctx.output.note(`job ${record.id} (${record.kind}) running`);
  // The job's events go through the command's one stream (source `job`, with the job's id); `--json`
  // prints them from there, as it prints a pull's download events.
  const stopPrinting = ctx.events.listen((e) => {
    if (e.source === "job") ctx.output.event(e.event);
  });
  let outcome;
  try {
    outcome = await runJob(record, {
      records,
      store: await ctx.store(),
      signal: AbortSignal.any([controller.signal, ctx.output.closed]),
      onEvent: (e) => void ctx.events.publish("job", e, { jobId: record.id }),
      effects: cliJobEffects(ctx),
    });
  } finally {
    stopPrinting();
    for (const s of signals) Deno.removeSignalListener(s, cancel);
    await ctx.endProgress();
  }
  const r = outcome.record;
  ctx.output.event({ event: "job", ...r });
  ctx.output.result(`job ${r.id} ${r.state}  ${progressText(r)}`);
  for (const a of r.artifacts) ctx.output.result(`  ${a.id}  ${a.path}`);
  if (outcome.error) throw outcome.error;
}

/** Cancels job `id`: a live process gets SIGTERM (its runner records `cancelled`); a dead one's record is closed. */
async function cancel(ctx: CommandContext, records: JobRecords, id: string): Promise<void> {
  const r = await records.read(id);
  if (isFinished(r.state)) {
    throw new LodeError(
      "JOB_FINISHED",
      `job ${id} has already ${r.state === "cancelled" ? "been cancelled" : r.state}`,
      {
        details: { id, state: r.state },
      },
    );
  }
  let done: JobRecord;
  if (r.state === "interrupted" || r.pid === null) {
    const at = new Date().toISOString();
    const error = { code: "CANCELLED", message: `job ${id} was cancelled` };
    done = { ...r, state: "cancelled", finished_at: at, error };
    await records.append({ event: "job_state", id, kind: r.kind, at, state: "cancelled", error });
    await records.write(done);
  } else {
    Deno.kill(r.pid, "SIGTERM");
    done = await settled(records, id);
  }
  ctx.output.event({ event: "job", ...done });
  ctx.output.result(`job ${id} ${done.state}`);
}

/** Waits for job `id` to finish (polling its record), or for its process to die. */
async function settled(records: JobRecords, id: string): Promise<JobRecord> {
  for (let delay = 10;; delay = Math.min(delay * 2, 200)) {
    const r = await records.read(id);
    if (isFinished(r.state) || r.state === "interrupted") return r;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

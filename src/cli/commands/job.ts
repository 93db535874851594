/**
 * `lode job plan KIND | run KIND | ls | show ID | watch ID | cancel ID | resume ID`: jobs without a daemon. `plan`
 * prints a job's pure plan; `run` records it under `$MODELS_HOME/jobs/<id>/` and runs it in this process
 * (SIGINT or SIGTERM cancels it); `ls` and `show` read the records; `watch` follows a job's events file; `cancel` sends SIGTERM to the process
 * running a job and waits (`--timeout`, 10s) for its record to say `cancelled`; `resume` runs an interrupted job again from
 * its record (a download continues from its partial). `run` and `resume` hold the job's claim while it runs
 * (`job_claim.ts`): a second `resume` of it fails with `JOB_RUNNING`. The runner and the download engine are loaded
 * only by `run` and `resume`.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { isFinished } from "../../events/job_event.ts";
import { cancelStoppedJob, claimJob, resumableRecord } from "../../jobs/job_claim.ts";
import { lookUpJobRef, planJob } from "../../jobs/job_plan.ts";
import { type JobRecord, JobRecords } from "../../jobs/job_record.ts";
import { parseJobSpec } from "../../jobs/job_spec.ts";
import { formatDuration, parseDuration } from "../../store/gc_duration.ts";
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
  const timeout = parsed.options.timeout as string | undefined;
  if (timeout !== undefined && action !== "cancel") {
    throw new LodeError("USAGE", "--timeout applies to `lode job cancel`");
  }
  const socket = parsed.options.socket as string | undefined;
  if (socket !== undefined && action !== "run" && action !== "resume") {
    throw new LodeError("USAGE", "--socket applies to `lode job run` and `lode job resume`");
  }
  const records = new JobRecords(ctx.config.storeRoot);
  switch (action) {
    case "plan": {
      const parsedSpec = parseJobSpec(needs("a kind: lode job plan KIND --spec JSON"), await readSpec(spec));
      const plan = planJob(parsedSpec, { ref: await lookUpJobRef(parsedSpec, ctx.lookupRegistry) });
      ctx.output.event({ event: "job_plan", ...plan });
      for (const line of planLines(plan)) ctx.output.result(line);
      return;
    }
    case "run": {
      const parsedSpec = parseJobSpec(needs("a kind: lode job run KIND --spec JSON"), await readSpec(spec));
      const plan = planJob(parsedSpec, { ref: await lookUpJobRef(parsedSpec, ctx.lookupRegistry) });
      const record = await records.create(plan, Deno.cwd());
      await using _claim = await claimJob(records.jobDir(record.id));
      return await execute(ctx, records, record, socket);
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
      return await cancel(
        ctx,
        records,
        needs("a job id: lode job cancel ID"),
        parseDuration(timeout ?? "10s"),
      );
    case "watch": {
      const { watchJob } = await import("../job_watch.ts");
      const r = await watchJob(ctx, records, needs("a job id: lode job watch ID"));
      ctx.output.event({ event: "job", ...r });
      ctx.output.result(`job ${r.id} ${r.state}`);
      return;
    }
    case "resume": {
      const id = needs("a job id: lode job resume ID");
      resumableRecord(await records.read(id));
      // One process runs a job: a second resume fails here with JOB_RUNNING. The record is read again
      // under the claim, as the first may have finished the job meanwhile.
      await using _claim = await claimJob(records.jobDir(id));
      return await execute(ctx, records, resumableRecord(await records.read(id)), socket);
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
async function execute(
  ctx: CommandContext,
  records: JobRecords,
  record: JobRecord,
  socket?: string,
): Promise<void> {
  const { runJobHere } = await import("../run_job_here.ts");
  const outcome = await runJobHere(ctx, records, record, socket);
  const r = outcome.record;
  ctx.output.event({ event: "job", ...r });
  ctx.output.result(`job ${r.id} ${r.state}  ${progressText(r)}`);
  for (const a of r.artifacts) ctx.output.result(`  ${a.id}  ${a.path}`);
  if (outcome.error) throw outcome.error;
}

/**
 * Cancels job `id`: a live process gets SIGTERM (its runner records `cancelled`) and `waitMs` to record it,
 * else `JOB_CANCEL_TIMEOUT` naming its pid; a dead one's record is closed.
 */
async function cancel(ctx: CommandContext, records: JobRecords, id: string, waitMs: number): Promise<void> {
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
    const closed = await cancelStoppedJob(records, r);
    // Another process took the job up meanwhile (a resume): cancel it as it now stands.
    if (closed === null) return await cancel(ctx, records, id, waitMs);
    done = closed;
  } else if (r.daemon_socket !== undefined) {
    done = await cancelInDaemon(r.daemon_socket, r);
  } else {
    const pid = r.pid;
    try {
      Deno.kill(pid, "SIGTERM");
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // it died since its record was read
    }
    const settledOrNull = await settled(records, id, Date.now() + waitMs);
    if (settledOrNull === null) {
      const waited = formatDuration(waitMs);
      throw new LodeError(
        "JOB_CANCEL_TIMEOUT",
        `job ${id}'s process (pid ${pid}) was sent SIGTERM but has not recorded \`cancelled\` after ${waited}`,
        {
          details: { id, pid, waited_ms: waitMs },
          hint:
            `Wait longer (\`lode job cancel ${id} --timeout 1m\`), or stop it: \`kill -9 ${pid}\`; the job then reads \`interrupted\`.`,
        },
      );
    }
    done = settledOrNull;
  }
  ctx.output.event({ event: "job", ...done });
  ctx.output.result(`job ${id} ${done.state}`);
}

/**
 * Cancels `r`, which a daemon runs, through its socket (the daemon stops it and answers its record). A
 * daemon that no longer answers has stopped: the record then reads `interrupted`, and is closed here.
 */
async function cancelInDaemon(socket: string, r: JobRecord): Promise<JobRecord> {
  const [{ DaemonClient }, { cancelJob }] = await Promise.all([
    import("../../daemon/wire/client.ts"),
    import("../../daemon/wire/job_client.ts"),
  ]);
  let client;
  try {
    client = await DaemonClient.connect(socket);
  } catch {
    throw new LodeError("JOB_RUNNING", `job ${r.id} runs in the daemon on ${socket}, which does not answer`, {
      details: { id: r.id, socket, pid: r.pid },
      hint: "The daemon is starting or stopping: run the cancel again in a moment.",
    });
  }
  try {
    return await cancelJob(client, r.id);
  } finally {
    client.close();
  }
}

/** Waits until `deadline` (epoch ms) for job `id` to finish (polling its record) or its process to die; null when it has not. */
async function settled(records: JobRecords, id: string, deadline: number): Promise<JobRecord | null> {
  for (let delay = 10;; delay = Math.min(delay * 2, 200)) {
    const r = await records.read(id);
    if (isFinished(r.state) || r.state === "interrupted") return r;
    const left = deadline - Date.now();
    if (left <= 0) return null;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
  }
}

/**
 * Running a recorded job in this process, as `lode job run`, `lode job resume` and `lode push` do: SIGINT
 * and SIGTERM cancel it (its record says `cancelled`); its events go through the command's one stream
 * (source `job`, with the job's id), which `--json` prints, as it prints a pull's download events. The
 * caller holds the job's claim.
 * @module
 */
import type { JobOutcome } from "../jobs/job_runner.ts";
import type { JobRecord, JobRecords } from "../jobs/job_record.ts";
import type { CommandContext } from "./context.ts";

/** Runs `record` here; its outcome (the final record, the typed error when it did not succeed). */
export async function runJobHere(
  ctx: CommandContext,
  records: JobRecords,
  record: JobRecord,
  socket?: string,
): Promise<JobOutcome> {
  const [{ runJob }, { cliJobEffects }] = await Promise.all([
    import("../jobs/job_runner.ts"),
    import("./job_effects.ts"),
  ]);
  const controller = new AbortController();
  const cancel = () => controller.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, cancel);
  ctx.output.note(`job ${record.id} (${record.kind}) running`);
  try {
    return await runJob(record, {
      records,
      store: await ctx.store(),
      signal: AbortSignal.any([controller.signal, ctx.output.closed]),
      onEvent: (e) => void ctx.events.publish("job", e, { jobId: record.id }),
      effects: cliJobEffects(ctx, { dir: records.jobDir(record.id), ...(socket ? { socket } : {}) }),
    });
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, cancel);
    await ctx.endProgress();
  }
}

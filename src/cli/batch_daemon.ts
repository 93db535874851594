/**
 * `lode batch` through a daemon: when one serves this store (or answers on `--socket`), the batch is
 * submitted to it as a model-batch-inference job and followed until it ends — its events published on the
 * command's stream (source `job`: the progress line, `--json`). Ctrl-C cancels the job (its finished answers
 * are kept); a client whose output closes stops following and leaves the job running.
 * @module
 */
import process from "node:process";
import { LodeError } from "../errors.ts";
import type { JobEvent } from "../events/job_event.ts";
import type { JobRecord } from "../jobs/job_record.ts";
import type { SpecOf } from "../jobs/job_spec.ts";
import { joinPath } from "../path.ts";
import type { CommandContext } from "./context.ts";

/** The batch's final record, run by the daemon; null when no daemon serves this store (run it here). */
export async function batchInDaemon(
  ctx: CommandContext,
  spec: Omit<SpecOf<"model-batch-inference">, "kind">,
  cwd: string,
  socket: string | undefined,
): Promise<JobRecord | null> {
  const [{ DaemonClient }, { submitJob, watchJob, cancelJob }, { socketPaths, storeIdentity }] = await Promise
    .all([
      import("../daemon/wire/client.ts"),
      import("../daemon/wire/job_client.ts"),
      import("./daemon_flags.ts"),
    ]);
  const path = socketPaths({ socket }, ctx.config).socket;
  let client;
  try {
    client = await DaemonClient.connect(path);
  } catch (e) {
    if (socket === undefined) return null;
    throw new LodeError("DAEMON_NOT_RUNNING", `no lode daemon answers on ${path}`, {
      details: { socket: path },
      hint: "Start one with `lode serve`, or run the batch in this process without --socket.",
      cause: e,
    });
  }
  try {
    const health = await client.health();
    if (socket === undefined && health.store !== storeIdentity(ctx.config.storeRoot)) return null;
    // Checked here first, so its problems come whole (a job's record keeps only an error's message).
    const { readBatchInput } = await import("../daemon/batch/batch_run.ts");
    await readBatchInput(joinPath(cwd, spec.inputs), spec.model);
    const { job } = await submitJob(client, "model-batch-inference", spec, cwd);
    ctx.output.note(`job ${job.id} (model-batch-inference) running in the daemon on ${path}`);
    const stop = new AbortController();
    let cancelled = false;
    const cancel = () => {
      cancelled = true;
      stop.abort();
    };
    process.on("SIGINT", cancel);
    process.on("SIGTERM", cancel);
    const quiet = () => stop.abort();
    ctx.output.closed.addEventListener("abort", quiet, { once: true });
    try {
      return await watchJob(client, job.id, {
        signal: stop.signal,
        onItem: (frame) => {
          if (frame.type === "job_event") {
            ctx.events.publish("job", frame.event as JobEvent, { jobId: job.id });
          }
        },
      });
    } catch (e) {
      if (!stop.signal.aborted) throw e;
      if (!cancelled) {
        throw new LodeError(
          "INTERRUPTED",
          `the output was closed; the batch goes on in the daemon (job ${job.id})`,
        );
      }
      return await cancelJob(client, job.id);
    } finally {
      process.off("SIGINT", cancel);
      process.off("SIGTERM", cancel);
      ctx.output.closed.removeEventListener("abort", quiet);
    }
  } finally {
    client.close();
  }
}

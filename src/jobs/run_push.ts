/**
 * The runner of a model-push job: the push effect (the CLI's `lode push`) uploads the model; its events
 * are passed on as they come, and the bytes sent so far (blobs the registry had count as sent) are the
 * job's progress, out of the total its `push_started` event announces. An interrupted push resumes from
 * the upload records in the store (src/registry/oci/upload_state.ts), so the job is resumable.
 * @module
 */
import type { JobContext, JobEffect } from "./job_context.ts";
import type { SpecOf } from "./job_spec.ts";

/** Runs `spec` with `push`; its result is the push's (`pushed` event fields). */
export async function runPush(
  ctx: JobContext,
  spec: SpecOf<"model-push">,
  push: JobEffect,
): Promise<unknown> {
  let total: number | null = null;
  const done = new Map<string, number>();
  const sum = () => [...done.values()].reduce((n, b) => n + b, 0);
  const onEvent = (event: { event: string }) => {
    const e = event as {
      event: string;
      total_bytes?: number;
      digest?: string;
      done_bytes?: number;
      size_bytes?: number;
    };
    if (e.event === "push_started" && e.total_bytes !== undefined) {
      total = e.total_bytes;
      ctx.progress(0, total);
    } else if (e.event === "push_progress" && e.digest !== undefined && e.done_bytes !== undefined) {
      done.set(e.digest, e.done_bytes);
      ctx.progress(sum(), total);
    } else if (e.event === "push_blob" && e.digest !== undefined && e.size_bytes !== undefined) {
      done.set(e.digest, e.size_bytes);
      ctx.progress(sum(), total);
    }
    ctx.forward(event);
  };
  return await push(spec, { cwd: ctx.cwd, signal: ctx.signal, onEvent });
}

/**
 * What `lode job run` and `lode job resume` give the job runner: the pull of a model-download job
 * (resolve the reference, then download it with the command's pull context, its signal the job's and
 * its download events passed to the job as well as to the progress display).
 * @module
 */
import type { JobEffects } from "../jobs/job_context.ts";
import { planUrls, pullPlan } from "../registry/pull_plan.ts";
import type { CommandContext } from "./context.ts";
import { resolveRef } from "./pull_ref.ts";

/** The effects of a job run from the command line. */
export function cliJobEffects(ctx: CommandContext): JobEffects {
  return {
    pull: async (ref, { name, sha256, signal, onEvent }) => {
      const plan = await resolveRef(ctx, ref, { name, sha256 });
      const pull = await ctx.pullContext(planUrls(plan));
      const result = await pullPlan(plan, {
        ...pull,
        signal: AbortSignal.any([signal, ...(pull.signal ? [pull.signal] : [])]),
        emit: (event) => {
          pull.emit?.(event);
          onEvent(event);
        },
      });
      return { name: result.name, result };
    },
  };
}

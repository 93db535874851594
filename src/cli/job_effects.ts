/**
 * What `lode job run` and `lode job resume` give the job runner: the pull of a model-download job
 * (resolve the reference, then download it with the command's pull context, its signal the job's and
 * its download events passed to the job as well as to the progress display), and the lockfile edit of a
 * lock-add job (as `lode lock add`).
 * @module
 */
import type { JobEffects } from "../jobs/job_context.ts";
import {
  emptyLockfile,
  findEntry,
  lockfilePath,
  readLockfileIfPresent,
  withEntry,
  writeLockfile,
} from "../lock/lockfile.ts";
import { pinPlan } from "../lock/pin_plan.ts";
import { joinPath } from "../path.ts";
import type { ModelPlan } from "../registry/registry.ts";
import { planUrls, pullPlan } from "../registry/pull_plan.ts";
import type { CommandContext } from "./context.ts";
import { resolveRef } from "./pull_ref.ts";

type OnEvent = (event: { event: string }) => void;

/** The effects of a job run from the command line. */
export function cliJobEffects(ctx: CommandContext): JobEffects {
  const pullWith = async (plan: ModelPlan, signal: AbortSignal, onEvent: OnEvent) => {
    const pull = await ctx.pullContext(planUrls(plan));
    return await pullPlan(plan, {
      ...pull,
      signal: AbortSignal.any([signal, ...(pull.signal ? [pull.signal] : [])]),
      emit: (event) => {
        pull.emit?.(event);
        onEvent(event);
      },
    });
  };
  return {
    pull: async (ref, { name, sha256, signal, onEvent }) => {
      const result = await pullWith(await resolveRef(ctx, ref, { name, sha256 }), signal, onEvent);
      return { name: result.name, result };
    },
    lockAdd: async (spec, { cwd, signal, onEvent }) => {
      const { ref, name, lockfile } = spec as { ref: string; name?: string; lockfile?: string };
      const path = lockfile === undefined
        ? lockfilePath(undefined, ctx.config.lockfile)
        : joinPath(cwd, lockfile);
      // Read first: a malformed lockfile fails before anything is downloaded.
      const lock = (await readLockfileIfPresent(path)) ?? emptyLockfile();
      const plan = await resolveRef(ctx, ref, { name });
      const store = await ctx.store();
      const { entry, downloaded } = await pinPlan(plan, { store, pull: (p) => pullWith(p, signal, onEvent) });
      signal.throwIfAborted();
      const replaced = findEntry(lock, entry.name) !== undefined;
      await writeLockfile(path, withEntry(lock, entry));
      return { lockfile: path, model: entry.name, replaced, downloaded };
    },
  };
}

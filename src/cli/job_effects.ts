/**
 * What `lode job run` and `lode job resume` give the job runner: the pull of a model-download job (the
 * one resolve-then-pull of src/registry/pull_reference.ts with the command's effects, its signal the
 * job's and its download events passed to the job as well as to the progress display), the lockfile work
 * of lock-add and sync jobs (the functions `lode lock add` and `lode sync` call), the upload of a model-push
 * job (`push_effects.ts`, as `lode push` runs it), the model effects of warmup and inference jobs
 * (`job_model_effects.ts`), and the batch of model-batch-inference jobs, run in this process (`batch_effect.ts`).
 * @module
 */
import type { PullContext } from "../download/pull_context.ts";
import type { JobEffects } from "../jobs/job_context.ts";
import type { SpecOf } from "../jobs/job_spec.ts";
import { lockfilePath } from "../lock/lockfile.ts";
import { pinToLockfile } from "../lock/pin_plan.ts";
import { syncLockfileAt } from "../lock/sync_file.ts";
import { joinPath } from "../path.ts";
import {
  type PullEffects,
  pullReference,
  pullResolvedPlan,
  resolveReference,
} from "../registry/pull_reference.ts";
import type { CommandContext } from "./context.ts";
import { cliBatchEffect } from "./batch_effect.ts";
import { parseLoadFlags } from "./inference_flags.ts";
import { inferenceEffect, warmupEffect } from "./job_model_effects.ts";
import { pullEffects } from "./pull_ref.ts";

type OnEvent = (event: { event: string }) => void;

/** Where a job runs: its directory (its own files), and the daemon socket it was given (`--socket`). */
export interface JobPlace {
  dir: string;
  socket?: string;
}

/** The effects of a job run from the command line. */
export function cliJobEffects(ctx: CommandContext, place: JobPlace): JobEffects {
  // The command's pull effects, its pull context joined to the job's signal and events.
  const jobPull = (signal: AbortSignal, onEvent: OnEvent): PullEffects => ({
    ...pullEffects(ctx),
    pullContext: async (urls): Promise<PullContext> => {
      const pull = await ctx.pullContext(urls);
      return {
        ...pull,
        signal: AbortSignal.any([signal, ...(pull.signal ? [pull.signal] : [])]),
        emit: (event) => {
          pull.emit?.(event);
          onEvent(event);
        },
      };
    },
  });
  // A lockfile path of a spec starts from the job's directory, as the configured one does.
  const lockfileOf = (cwd: string, lockfile: string | undefined) => {
    const path = lockfile ?? lockfilePath(undefined, ctx.config.lockfile);
    return path.startsWith("/") ? path : joinPath(cwd, path);
  };
  return {
    pull: async (ref, { name, sha256, signal, onEvent }) => {
      const result = await pullReference(ref, jobPull(signal, onEvent), { name, sha256, signal });
      const { plan: _plan, ...pulled } = result;
      return { name: result.name, result: pulled };
    },
    lockAdd: async (raw, { cwd, signal, onEvent }) => {
      const spec = raw as SpecOf<"lock-add">;
      const effects = jobPull(signal, onEvent);
      const pinned = await pinToLockfile(lockfileOf(cwd, spec.lockfile), spec.ref, {
        store: await ctx.store(),
        resolve: (ref, options) => resolveReference(ref, effects, { ...options, signal }),
        pull: (plan) => pullResolvedPlan(plan, effects, { signal }),
        signal,
        ...(spec.name === undefined ? {} : { name: spec.name }),
      });
      const { lockfile, entry, replaced, downloaded } = pinned;
      return { lockfile, model: entry.name, replaced, downloaded };
    },
    sync: async (raw, { cwd, signal, onEvent }) => {
      const spec = raw as SpecOf<"sync">;
      const effects = jobPull(signal, onEvent);
      const { outcome, summary } = await syncLockfileAt(lockfileOf(cwd, spec.lockfile), {
        store: () => ctx.store(),
        names: spec.names,
        frozen: spec.frozen,
        offline: ctx.config.offline,
        lock: { wait: ctx.flags.wait !== false },
        pull: (plan) => pullResolvedPlan(plan, effects, { signal }),
        // Printed with --json, as `lode sync` prints them (a pull's events come from the command's pull context).
        emit: (event) => {
          ctx.emit("lock", event);
          onEvent(event);
        },
      });
      signal.throwIfAborted();
      if (outcome.error) throw outcome.error;
      return { ...summary, synced: outcome.models.map((m) => ({ name: m.name, status: m.status })) };
    },
    push: async (raw, { signal, onEvent }) => {
      const spec = raw as SpecOf<"model-push">;
      const { pushWithCommand } = await import("./push_effects.ts");
      return await pushWithCommand(ctx, spec, { signal, onEvent });
    },
    warmup: warmupEffect(ctx, place.socket),
    inference: inferenceEffect(ctx, place),
    batch: cliBatchEffect(ctx, parseLoadFlags({})),
  };
}

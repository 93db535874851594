/**
 * The model-batch-inference effect of the command line (`lode batch` without a daemon, `lode job run`,
 * `lode job resume`): the model is looked up in the store and loaded in this process with as many sequences
 * as the batch runs requests at once, its context `parallel × context_size` tokens, so each request gets
 * the same context whatever `parallel` is; the load flags (`--threads`, `--gpu`, `--memory-check`,
 * `--cpu-affinity`) are the command's.
 * @module
 */
import type { BatchEffect } from "../jobs/job_context.ts";
import type { LoadOptions } from "../inference/backend.ts";
import { batchJobEffect, DEFAULT_BATCH_CONTEXT } from "../daemon/batch/batch_job.ts";
import type { CommandContext } from "./context.ts";
import { openModel } from "./model_session.ts";

/** The batch effect loading models here with `load` (threads, accelerator, memory check, CPUs). */
export function cliBatchEffect(ctx: CommandContext, load: LoadOptions = {}): BatchEffect {
  return batchJobEffect({
    resolveModel: async (name) => {
      const manifest = await (await ctx.store()).getManifest(name);
      return { sha256: manifest.blob.replace(/^sha256:/, "") };
    },
    open: async (name, { parallel, contextSize, signal }) => {
      const model = await openModel(ctx, name, {
        load: {
          ...load,
          signal,
          sequences: parallel,
          contextSize: (contextSize ?? DEFAULT_BATCH_CONTEXT) * parallel,
        },
        daemon: { use: false },
      });
      return { target: model.session, close: () => model.close() };
    },
  });
}

/**
 * The model effects of a job run from the command line. model-warmup loads the model into the daemon that
 * serves this store, or the one on the job's `--socket` (a `load` request through the daemon client);
 * without one it fails with `DAEMON_NOT_RUNNING`. model-inference opens the model as `lode run` does (in that daemon when one serves
 * the store, else in this process), generates once, and writes the text to `output.txt` in the job's
 * directory; its result is the text, the stop reason, the usage and that file's path.
 * @module
 */
import { LodeError } from "../errors.ts";
import type { JobEffect } from "../jobs/job_context.ts";
import type { SpecOf } from "../jobs/job_spec.ts";
import { joinPath } from "../path.ts";
import type { CommandContext } from "./context.ts";
import { parseLoadFlags } from "./inference_flags.ts";
import { openModel } from "./model_session.ts";

/** The file of a model-inference job's text, in its directory. */
export const INFERENCE_OUTPUT = "output.txt";

/** model-warmup: a `load` of the spec's model in the daemon of this store (or the one on `socket`). */
export function warmupEffect(ctx: CommandContext, given?: string): JobEffect {
  return async (raw, { signal }) => {
    const spec = raw as SpecOf<"model-warmup">;
    const [{ socketPaths, storeIdentity }, { DaemonClient }, { PROTOCOL_VERSION }] = await Promise.all([
      import("./daemon_flags.ts"),
      import("../daemon/wire/client.ts"),
      import("../daemon/wire/protocol.ts"),
    ]);
    const socket = socketPaths({ socket: given }, ctx.config).socket;
    const noDaemon = (why: string, cause?: unknown) =>
      new LodeError("DAEMON_NOT_RUNNING", `a model-warmup job loads ${spec.model} into a daemon: ${why}`, {
        details: { socket, model: spec.model },
        hint:
          "Start the daemon of this store with `lode serve` (it keeps the model loaded), then run the job again.",
        ...(cause === undefined ? {} : { cause }),
      });
    let client;
    try {
      client = await DaemonClient.connect(socket);
    } catch (e) {
      throw noDaemon(`none answers on ${socket}`, e);
    }
    try {
      const health = await client.health();
      if (health.status !== "ready" || health.protocol !== PROTOCOL_VERSION) {
        throw noDaemon(`the daemon on ${socket} is ${health.status} (protocol ${health.protocol})`);
      }
      if (given === undefined && health.store !== storeIdentity(ctx.config.storeRoot)) {
        throw noDaemon(`the daemon on ${socket} serves another store (${health.store})`);
      }
      let loaded;
      await client.request(
        { op: "load", model: spec.model, ...(spec.context_size ? { context_size: spec.context_size } : {}) },
        { signal, onFrame: (f) => f.type === "loaded" && (loaded = f) },
      );
      signal.throwIfAborted();
      if (loaded === undefined) {
        throw new LodeError("INTERNAL", "the daemon answered load without a loaded frame");
      }
      const { model, load_ms, context_size, keep_alive_ms } = loaded;
      return { model, socket, load_ms, context_size, keep_alive_ms: keep_alive_ms ?? null };
    } finally {
      client.close();
    }
  };
}

/**
 * model-inference: one generation, its text written to {@link INFERENCE_OUTPUT} in the job's directory. The
 * model runs in the daemon on `place.socket` when given (it must answer), else in the daemon of this store
 * when one serves it, else here.
 */
export function inferenceEffect(ctx: CommandContext, place: { dir: string; socket?: string }): JobEffect {
  return async (raw, { signal }) => {
    const spec = raw as SpecOf<"model-inference">;
    const model = await openModel(ctx, spec.model, {
      load: { ...parseLoadFlags({}), signal },
      daemon: place.socket === undefined ? {} : { socket: place.socket },
    });
    try {
      // As `lode run` without --raw: through the model's chat template when it has one.
      const options = { signal, ...(spec.max_tokens ? { maxTokens: spec.max_tokens } : {}) };
      const generation = model.session.info.hasChatTemplate
        ? model.session.chat([{ role: "user", content: spec.prompt }], options)
        : model.session.generate(spec.prompt, options);
      const result = await generation.result;
      signal.throwIfAborted();
      const output = joinPath(place.dir, INFERENCE_OUTPUT);
      await Deno.writeTextFile(output, result.text);
      return {
        text: result.text,
        stop_reason: result.stopReason,
        usage: result.usage,
        output,
        ...(model.daemon ? { daemon: model.daemon } : {}),
      };
    } finally {
      await model.close();
    }
  };
}

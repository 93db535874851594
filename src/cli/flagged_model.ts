/**
 * Opening the MODEL argument of `lode run`, `lode chat` and `lode embed` with their shared flags
 * (`--name`, `--sha256`, `--no-daemon`, `--socket`, the load flags), Ctrl-C cancelling the load.
 * @module
 */
import type { LoadOptions, Session } from "../inference/backend.ts";
import type { ParsedArgv } from "./args.ts";
import type { CommandContext } from "./context.ts";
import { explicitLoadFlags } from "./inference_flags.ts";
import { onInterrupt, type OpenedModel, openModel } from "./model_session.ts";

/**
 * What {@link withFlaggedModel} gives its body: the signal Ctrl-C aborts, and a way to give Ctrl-C another
 * meaning once the model is loaded.
 *
 * @example
 * ```ts
 * import type { ModelControl } from "./flagged_model.ts";
 * const stopOnCtrlC = (control: ModelControl, stop: () => void) => control.onInterrupt(stop);
 * ```
 */
export interface ModelControl {
  /** Aborted by Ctrl-C (unless {@link onInterrupt} replaced that). */
  signal: AbortSignal;
  /** What Ctrl-C does from now on, instead of aborting `signal`. */
  onInterrupt(handler: () => void): void;
}

/**
 * The opening `run`, `chat` and `embed` share: opens the MODEL argument of `parsed` with `load` (in the daemon
 * unless `--no-daemon`; pulled when missing, with `--name`/`--sha256`), Ctrl-C cancelling the load, runs `use`
 * with the session and closes the model, whatever happens. A closed output aborts the signal too.
 */
export async function withFlaggedModel(
  ctx: CommandContext,
  parsed: ParsedArgv,
  options: { load: LoadOptions; use: (session: Session, control: ModelControl) => Promise<void> },
): Promise<void> {
  const o = parsed.options;
  const abort = new AbortController();
  let interrupt = () => abort.abort(new DOMException("Ctrl-C", "AbortError"));
  const stopListening = onInterrupt(() => interrupt());
  // A closed output cancels the load and the generation (Ctrl-C's meaning may change; this does not).
  const closed = ctx.output.closed;
  const onClosed = () => abort.abort(closed.reason);
  if (closed.aborted) onClosed();
  closed.addEventListener("abort", onClosed, { once: true });
  let model: OpenedModel | undefined;
  try {
    model = await openModel(ctx, parsed.args.model as string, {
      load: { ...options.load, signal: abort.signal },
      pull: { name: o.name as string | undefined, sha256: o.sha256 as string | undefined },
      daemon: {
        use: o.daemon !== false,
        socket: o.socket as string | undefined,
        loadFlags: explicitLoadFlags(o),
      },
    });
    if (model.daemon && o.verbose === true) ctx.output.note(`running in the daemon on ${model.daemon}`);
    await options.use(model.session, {
      signal: abort.signal,
      onInterrupt: (handler) => interrupt = handler,
    });
  } finally {
    stopListening();
    closed.removeEventListener("abort", onClosed);
    await model?.close();
  }
}

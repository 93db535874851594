/**
 * `lode run MODEL [PROMPT]`: pull the model when it is missing, load it and
 * stream the answer to stdout. A model with a chat template answers through
 * it (`--system` becomes the system message); a model without one, or any
 * model with `--raw`, continues the text (`--system` is then put before the
 * prompt). With `--json`: status events, `token` events, then `done`.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { ChatMessage, LoadOptions, Session } from "../../inference/backend.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { explicitLoadFlags, parseGenerateFlags, parseLoadFlags } from "../inference_flags.ts";
import { onInterrupt, type OpenedModel, openModel } from "../model_session.ts";
import { sessionLine, usageLines } from "../usage_report.ts";

async function readPrompt(arg: string | undefined): Promise<string> {
  if (arg !== undefined) return arg;
  if (Deno.stdin.isTerminal()) {
    throw new LodeError("USAGE", "give a prompt as an argument or on stdin", {
      hint: "For a conversation, use `lode chat MODEL`.",
    });
  }
  return (await new Response(Deno.stdin.readable).text()).replace(/\r?\n$/, "");
}

/**
 * What {@link withFlaggedModel} gives its body: the signal Ctrl-C aborts, and a way to give Ctrl-C another
 * meaning once the model is loaded.
 *
 * @example
 * ```ts
 * import type { ModelControl } from "./run.ts";
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
 *
 * @example
 * ```ts
 * import { withFlaggedModel } from "./run.ts";
 * await withFlaggedModel(ctx, parsed, {
 *   load: parseLoadFlags(parsed.options),
 *   use: async (session, { signal }) => console.log(await session.tokenize("hi")),
 * });
 * ```
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

/**
 * How the prompt reaches the model: through its chat template, or as text to continue.
 *
 * @example
 * ```ts
 * import type { RunMode } from "./run.ts";
 * const mode: RunMode = { kind: "chat", messages: [{ role: "user", content: "Hi" }] };
 * ```
 */
export type RunMode =
  | { kind: "chat"; messages: ChatMessage[] }
  | { kind: "continue"; text: string };

/**
 * Chooses between chat and continuation for `prompt`.
 *
 * @example
 * ```ts
 * import { runMode } from "./run.ts";
 * runMode(false, "Once upon a time", { system: "Tell a story." });
 * // { kind: "continue", text: "Tell a story.\n\nOnce upon a time" }
 * ```
 */
export function runMode(
  hasChatTemplate: boolean,
  prompt: string,
  options: { system?: string; raw?: boolean },
): RunMode {
  const { system, raw } = options;
  if (hasChatTemplate && !raw) {
    const messages: ChatMessage[] = system !== undefined ? [{ role: "system", content: system }] : [];
    messages.push({ role: "user", content: prompt });
    return { kind: "chat", messages };
  }
  return { kind: "continue", text: system !== undefined ? `${system}\n\n${prompt}` : prompt };
}

/**
 * `lode run`.
 *
 * @example
 * ```ts
 * import { run } from "./run.ts";
 * await run(ctx, parseArgv(["run", "stories260K", "Once upon a time"], PROGRAM));
 * ```
 */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const o = parsed.options;
  // Every flag is checked before anything is pulled or loaded.
  const load = parseLoadFlags(o);
  const { options: sampling, warnings } = await parseGenerateFlags(o);
  for (const w of warnings) ctx.output.note(`warning: ${w}`);
  const prompt = await readPrompt(parsed.args.prompt as string | undefined);
  const verbose = o.verbose === true;

  await withFlaggedModel(ctx, parsed, {
    load,
    use: async (session, { signal }) => {
      const mode = runMode(session.info.hasChatTemplate, prompt, {
        system: o.system as string | undefined,
        raw: o.raw === true,
      });
      if (verbose) {
        const how = mode.kind === "chat"
          ? "the model's chat template"
          : session.info.hasChatTemplate
          ? "--raw: text continuation"
          : "no chat template: text continuation";
        ctx.output.note(sessionLine(session.info, session.capabilities, how));
      }
      const options = { ...sampling, signal };
      const generation = mode.kind === "chat"
        ? session.chat(mode.messages, options)
        : session.generate(mode.text, options);
      for await (const text of generation) {
        if (ctx.output.json) ctx.output.event({ event: "token", text });
        else ctx.output.text(text);
      }
      const result = await generation.result;
      if (!ctx.output.json) ctx.output.text("\n");
      ctx.output.event({ event: "done", stop_reason: result.stopReason, usage: result.usage });
      if (verbose) { for (const line of usageLines(result)) ctx.output.note(line); }
      if (result.stopReason === "abort") throw new LodeError("INTERRUPTED", "generation stopped by Ctrl-C");
    },
  });
}

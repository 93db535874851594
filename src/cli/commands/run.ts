/**
 * `lode run MODEL [PROMPT]`: pull the model when it is missing, load it and
 * stream the answer to stdout. A model with a chat template answers through
 * it (`--system` becomes the system message); a model without one, or any
 * model with `--raw`, continues the text (`--system` is then put before the
 * prompt). With `--json`: status events, `token` events, then `done`.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { ChatMessage } from "../../inference/backend.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { withFlaggedModel } from "../flagged_model.ts";
import { parseGenerateFlags, parseLoadFlags } from "../inference_flags.ts";
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
 * How the prompt reaches the model: through its chat template, or as text to continue.
 */
type RunMode =
  | { kind: "chat"; messages: ChatMessage[] }
  | { kind: "continue"; text: string };

/**
 * Chooses between chat and continuation for `prompt`.
 */
function runMode(
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
      // Tokens and `done` are `inference` events on the command's stream (printed by it with --json).
      for await (const text of generation) {
        ctx.emit("inference", { event: "token", text });
        if (!ctx.output.json) ctx.output.text(text);
      }
      const result = await generation.result;
      if (!ctx.output.json) ctx.output.text("\n");
      ctx.emit("inference", { event: "done", stop_reason: result.stopReason, usage: result.usage });
      if (verbose) { for (const line of usageLines(result)) ctx.output.note(line); }
      if (result.stopReason === "abort") throw new LodeError("INTERRUPTED", "generation stopped by Ctrl-C");
    },
  });
}

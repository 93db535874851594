/**
 * `lode chat MODEL`: an interactive conversation on a terminal (prompt
 * marker, history, `/reset`, `/exit`, Ctrl-C stops an answer), or one message
 * per line of piped stdin for scripts (answers one per turn on stdout; with
 * `--json`, `token` and `done` events per answer). The rules are in
 * `src/cli/chat_loop.ts`.
 * @module
 */
import type { ParsedArgv } from "../args.ts";
import { CHAT_HELP, ChatLoop } from "../chat_loop.ts";
import type { CommandContext } from "../context.ts";
import { withFlaggedModel } from "../flagged_model.ts";
import { parseGenerateFlags, parseLoadFlags } from "../inference_flags.ts";
import { createLineReader } from "../line_reader.ts";
import { sessionLine, usageLines } from "../usage_report.ts";

/**
 * The prompt marker on a terminal.
 */
const PROMPT_MARKER = ">>> ";

/**
 * `lode chat`.
 */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const o = parsed.options;
  const ref = parsed.args.model as string;
  const load = parseLoadFlags(o);
  const { options: generate, warnings } = await parseGenerateFlags(o);
  for (const w of warnings) ctx.output.note(`warning: ${w}`);
  const interactive = Deno.stdin.isTerminal();
  const verbose = o.verbose === true;

  // Ctrl-C during the load cancels it; afterwards the chat loop decides what it means.
  await withFlaggedModel(ctx, parsed, {
    load,
    use: async (session, control) => {
      const layout = session.info.hasChatTemplate
        ? "the model's chat template"
        : "no chat template: role: text lines";
      if (verbose) ctx.output.note(sessionLine(session.info, session.capabilities, layout));
      if (interactive) {
        ctx.output.note(`chatting with ${ref} (${layout}). ${CHAT_HELP}`);
      }
      const loop = new ChatLoop(session, {
        generate,
        system: o.system as string | undefined,
        onResult: verbose ? (r) => usageLines(r).forEach((l) => ctx.output.note(l)) : undefined,
        interactive,
        io: {
          readLine: createLineReader(Deno.stdin.readable),
          answer: (text) => ctx.output.text(text),
          note: (line) => ctx.output.note(line),
          prompt: () => {
            if (interactive && !ctx.output.json) ctx.output.text(PROMPT_MARKER);
          },
          event: (e) => ctx.emit("inference", e),
          json: ctx.output.json,
        },
      });
      control.onInterrupt(() => loop.interrupt());
      const end = await loop.run();
      // After Ctrl-D the cursor sits after the prompt marker: end that line.
      if (end === "eof" && interactive && !ctx.output.json) ctx.output.text("\n");
    },
  });
}

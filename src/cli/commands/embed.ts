/**
 * `lode embed MODEL [TEXT…]`: one embedding vector per text (the texts from
 * the arguments, else one per non-empty line of stdin), in input order.
 * Default output is one JSON array on stdout, one `{"text", "embedding"}`
 * object per line of it, so `jq` and every JSON parser read it whole; with
 * `--json` the load's status events come first and then one
 * `{"event":"embedding","index","text","embedding"}` line per text (NDJSON).
 * Vectors have length 1 unless `--no-normalize`.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { EmbeddingEvent } from "../../events/inference_event.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { withFlaggedModel } from "../flagged_model.ts";
import { parseLoadFlags } from "../inference_flags.ts";
import { readAllLines } from "../line_reader.ts";
import { sessionLine } from "../usage_report.ts";

async function inputTexts(args: string[]): Promise<string[]> {
  if (args.length > 0) return args;
  if (Deno.stdin.isTerminal()) {
    throw new LodeError("USAGE", "give the texts to embed as arguments, or one per line on stdin");
  }
  const lines = (await readAllLines(Deno.stdin.readable)).filter((l) => l.trim() !== "");
  if (lines.length === 0) {
    throw new LodeError("USAGE", "stdin held no text to embed (empty lines are skipped)");
  }
  return lines;
}

/**
 * The default output: a JSON array with one object per line.
 */
function embeddingsJson(texts: string[], vectors: number[][]): string {
  const rows = texts.map((text, i) => JSON.stringify({ text, embedding: vectors[i] }));
  return `[\n${rows.join(",\n")}\n]\n`;
}

/**
 * `lode embed`.
 */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const o = parsed.options;
  const load = parseLoadFlags(o);
  const texts = await inputTexts((parsed.args.text as string[] | undefined) ?? []);
  await withFlaggedModel(ctx, parsed, {
    load,
    use: async (session, { signal }) => {
      if (o.verbose === true) {
        ctx.output.note(
          sessionLine(session.info, session.capabilities, `${session.info.embeddingSize} dimensions`),
        );
      }
      const started = performance.now();
      const vectors = await session.embed(texts, { normalize: o.normalize !== false, signal });
      if (o.verbose === true) {
        ctx.output.note(`embedded ${texts.length} text(s) in ${(performance.now() - started).toFixed(1)} ms`);
      }
      texts.forEach((text, index) => {
        const event: EmbeddingEvent = { event: "embedding", index, text, embedding: vectors[index]! };
        ctx.emit("inference", event);
      });
      if (!ctx.output.json) ctx.output.text(embeddingsJson(texts, vectors));
    },
  });
}

/**
 * What a JSON schema costs a generation, through lode's node-llama-cpp backend on one model:
 * tokens/s of constrained generation against free text (same prompt, same sampling, same token budget),
 * and the time from the call to the first chunk with a 20-property schema against none (the schema is read
 * and its grammar built per request, inside that time).
 * Rounds alternate the order of the sides; medians are reported, and the median of per-round ratios.
 * Targets: tokens/s within a few percent of free text; time to first token under 100 ms more. On a
 * random-weight model the sampled token often breaks the grammar, so node-llama-cpp applies the grammar to
 * every candidate far more often than with a trained model: a worst case.
 *
 * The constrained side asks for an array of strings, so the grammar stays engaged for the whole budget
 * (output cut by max tokens, like the free side); the 20-property schema mixes bounded integers, enums,
 * nullable strings, a nested object and a record.
 *
 * ```sh
 * deno run -A scripts/bench_schema.ts [--rounds 7] [--tokens 128] [--params 20M] [--threads 1] [--model FILE]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { median } from "./bench_report.ts";
import { parseCount, writeGgufModel } from "./gen_gguf.ts";
import { createLlamaCppBackend } from "../src/inference/llama_cpp_backend.ts";
import type { GenerateOptions, GenerateResult, Session } from "../src/inference/backend.ts";

const STORIES = fileURLToPath(new URL("../tests/fixtures/stories260K.gguf", import.meta.url));
const PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

/** An array of short strings: the grammar constrains every token up to the budget. */
const STREAM_SCHEMA = { type: "array", items: { type: "string", maxLength: 24 }, minItems: 1000 };

/** Twenty properties of the kinds the SDKs generate. */
export const WIDE_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: Object.fromEntries(
    Array.from({ length: 20 }, (_, i) => {
      const kinds = [
        { type: "integer", minimum: 0, maximum: 120 },
        { type: "string", enum: ["red", "green", "blue"] },
        { anyOf: [{ type: "string", maxLength: 12 }, { type: "null" }] },
        { $ref: "#/$defs/Address" },
        {
          type: "object",
          propertyNames: { maxLength: 6 },
          additionalProperties: { type: "boolean" },
          maxProperties: 2,
        },
      ];
      return [`field_${i}`, kinds[i % kinds.length]];
    }),
  ),
  required: Array.from({ length: 20 }, (_, i) => `field_${i}`),
  additionalProperties: false,
  $defs: {
    Address: {
      type: "object",
      properties: {
        city: { type: "string", maxLength: 10 },
        zip: { type: "integer", minimum: 1000, maximum: 99999 },
      },
      required: ["city", "zip"],
      additionalProperties: false,
    },
  },
};

async function run(session: Session, options: GenerateOptions): Promise<GenerateResult> {
  return await session.generate(PROMPT, { temperature: 0, ...options }).result;
}

/**
 * Generated tokens per second of the whole call (prompt included: the same prompt each time, so its
 * tokens come from the context's cache), which a token reported late cannot skew.
 */
function rate(result: GenerateResult): number {
  return result.usage.generatedTokens / (result.usage.totalMs / 1000);
}

/** Milliseconds from the generate call (schema check and grammar build included) to the first chunk. */
async function firstChunkMs(session: Session, options: GenerateOptions): Promise<number> {
  const start = performance.now();
  const generation = session.generate(PROMPT, { temperature: 0, maxTokens: 4, ...options });
  let first = NaN;
  for await (const _ of generation) {
    if (Number.isNaN(first)) first = performance.now() - start;
  }
  await generation.result;
  return first;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "7" },
      tokens: { type: "string", default: "128" },
      params: { type: "string", default: "20M" },
      threads: { type: "string", default: "1" },
      model: { type: "string" },
    },
  });
  const rounds = Number(values.rounds);
  const maxTokens = Number(values.tokens);
  let model = values.model;
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-schema-" });
  if (model === undefined) {
    model = `${dir}/model.gguf`;
    await writeGgufModel(model, { params: parseCount(values.params!), tokenizerFrom: STORIES });
  }
  const backend = createLlamaCppBackend();
  try {
    const session = await backend.load(model, {
      gpu: "off",
      threads: Number(values.threads),
      contextSize: 2048,
    });
    await run(session, { maxTokens: 8 }); // warm-up
    await run(session, { maxTokens: 8, jsonSchema: STREAM_SCHEMA });
    const free: number[] = [], constrained: number[] = [], ratios: number[] = [];
    const ttftPlain: number[] = [], ttftWide: number[] = [], ttftDeltas: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const sides = [
        () => run(session, { maxTokens }),
        () => run(session, { maxTokens, jsonSchema: STREAM_SCHEMA }),
      ];
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      const results: GenerateResult[] = [];
      for (const i of order) results[i] = await sides[i]!();
      const [f, c] = results as [GenerateResult, GenerateResult];
      if (c.usage.generatedTokens < maxTokens / 2) throw new Error(`constrained output too short: ${c.text}`);
      free.push(rate(f));
      constrained.push(rate(c));
      ratios.push(rate(c) / rate(f));

      const first = [
        () => firstChunkMs(session, {}),
        () => firstChunkMs(session, { jsonSchema: WIDE_SCHEMA }),
      ];
      const times: number[] = [];
      for (const i of order) times[i] = await first[i]!();
      ttftPlain.push(times[0]!);
      ttftWide.push(times[1]!);
      ttftDeltas.push(times[1]! - times[0]!);
    }
    const wide = await run(session, { maxTokens: 1000, jsonSchema: WIDE_SCHEMA });
    JSON.parse(wide.text); // the 20-property answer is complete JSON
    await session.close();
    const fmt = (n: number) => n.toFixed(1);
    const ratio = median(ratios);
    const delta = median(ttftDeltas);
    console.log(`model ${model} (${session.info.threads} threads), ${rounds} rounds of ${maxTokens} tokens`);
    console.log(`tokens/s: free ${fmt(median(free))}, constrained ${fmt(median(constrained))}`);
    console.log(
      `constrained/free (median of rounds): ${(ratio * 100).toFixed(1)}% — ${
        (1 - ratio) * 100 <= 5 ? "within" : "OVER"
      } 5%`,
    );
    console.log(
      `time to first token: none ${fmt(median(ttftPlain))} ms, 20-property schema ${
        fmt(median(ttftWide))
      } ms`,
    );
    console.log(`delta (median of rounds): ${fmt(delta)} ms — ${delta < 100 ? "under" : "OVER"} 100 ms`);
    console.log(
      `20-property answer: ${wide.usage.generatedTokens} tokens at ${fmt(rate(wide))} tokens/s`,
    );
  } finally {
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();

import { deepStrictEqual as assertEquals, ok as assert, rejects as assertRejects } from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { isLodeError } from "../errors.ts";
import { LlamaCppEmbedder, normalized } from "./llama_cpp_embed.ts";
import { PromptMeter } from "./llama_cpp_prompt.ts";

const STORIES = fromFileUrl(new URL("../../tests/fixtures/stories260K.gguf", import.meta.url));

Deno.test("normalized scales to length 1 and leaves a zero vector alone", () => {
  assertEquals(normalized([3, 4]), [0.6, 0.8]);
  assertEquals(normalized([0, 0]), [0, 0]);
});

Deno.test("the embedding context is created on the first embed only; texts as long as it are refused", async () => {
  const lib = await import("node-llama-cpp");
  const llama = await lib.getLlama({ gpu: false, build: "never", logLevel: lib.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: STORIES });
  let created = 0;
  const counting = Object.create(model, {
    createEmbeddingContext: { value: (o: object) => (created++, model.createEmbeddingContext(o)) },
  });
  const meter = new PromptMeter(model, 32, STORIES);
  const embedder = new LlamaCppEmbedder({
    model: counting,
    contextSize: 32,
    threads: 1,
    path: STORIES,
    meter,
  });
  const tooLong = (index: number, exact: boolean) => (e: unknown) =>
    isLodeError(e, "CONTEXT_LENGTH_EXCEEDED") && e.details.index === index && e.details.exact === exact &&
    e.details.context_size === 32 && new RegExp(`^text ${index} is `).test(e.message);
  try {
    // Far too long by its bytes alone: refused before the embedding context is made.
    await assertRejects(embedder.embed(["a cat", "word ".repeat(100)]), tooLong(1, false));
    assertEquals(created, 0);
    const [a] = await embedder.embed(["a cat"]);
    const [b] = await embedder.embed(["a cat"]);
    assertEquals(created, 1);
    assertEquals(a, b);
    assertEquals(a!.length, model.embeddingVectorSize);
    await assertRejects(embedder.embed(["a cat", "word ".repeat(40)]), tooLong(1, true));
    await assertRejects(embedder.embed(["ok", ""]), (e: unknown) => isLodeError(e, "USAGE"));
  } finally {
    await embedder.dispose();
    await embedder.dispose();
    await model.dispose();
    await llama.dispose();
  }
  assert(created === 1);
});

import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { createLlamaCppBackend } from "./llama_cpp_backend.ts";

const MODEL = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;
const PROMPTS = ["Once upon a time", "Lily saw a dog", "The sun was", "Tom had a red ball", "One day, a cat"];

async function answers(sequences: number): Promise<{ texts: string[]; contextSize: number }> {
  const backend = createLlamaCppBackend();
  try {
    const session = await backend.load(MODEL, {
      gpu: "off",
      threads: 1,
      contextSize: 256 * sequences,
      sequences,
    });
    // All at once: with fewer sequences than calls, the extra calls wait for a free one.
    const texts = await Promise.all(
      PROMPTS.map(async (p) => (await session.generate(p, { maxTokens: 24, temperature: 0 }).result).text),
    );
    return { texts, contextSize: session.info.contextSize };
  } finally {
    await backend.close();
  }
}

Deno.test("sequences: calls run together, each with its share of the context, the same greedy text as one by one", async () => {
  const one = await answers(1);
  const four = await answers(4);
  assert.equal(one.contextSize, 256);
  assert.equal(four.contextSize, 256, "each sequence gets contextSize / sequences");
  assert.deepEqual(four.texts, one.texts);
  assert.ok(one.texts.every((t) => t.length > 0));
});

Deno.test("sequences: a chat and an embedding take turns with the generations; close waits for them", async () => {
  const backend = createLlamaCppBackend();
  try {
    const session = await backend.load(MODEL, { gpu: "off", threads: 1, contextSize: 512, sequences: 2 });
    const chats = [1, 2, 3].map(() =>
      session.chat([{ role: "user", content: "Hi" }], { maxTokens: 8, temperature: 0 }).result
    );
    const vectors = session.embed(["a dog"]);
    const texts = (await Promise.all(chats)).map((r) => r.text);
    assert.equal(new Set(texts).size, 1, "the same greedy answer on every sequence");
    assert.equal((await vectors)[0]!.length, session.info.embeddingSize);
  } finally {
    await backend.close();
  }
});

Deno.test("sequences must be a positive integer", async () => {
  const backend = createLlamaCppBackend();
  try {
    await assert.rejects(backend.load(MODEL, { sequences: 0 }), (e) => isLodeError(e, "USAGE"));
  } finally {
    await backend.close();
  }
});

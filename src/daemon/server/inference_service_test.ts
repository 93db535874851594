/**
 * The inference service on the real stories260K (an in-process router of the real backend, threads 1):
 * typed answers, the admission slot and the model held exactly as long as a generation runs, failures
 * worded once for every front.
 */
import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../../errors.ts";
import { LocalRouter, STORIES } from "../../../tests/support/local_router.ts";
import { AdmissionQueue } from "./admission_queue.ts";
import { InferenceService, type ServiceCall, type WaitEvent } from "./inference_service.ts";

const MODEL = "stories260K";
const PROMPT = "Once upon a time";

async function withService(
  body: (service: InferenceService, queue: AdmissionQueue) => Promise<void>,
  options: { tokenDelayMs?: number } = {},
): Promise<void> {
  const router = new LocalRouter({ models: { [MODEL]: STORIES }, tokenDelayMs: options.tokenDelayMs ?? 0 });
  const queue = new AdmissionQueue({ maxQueue: 4, parallel: 1 });
  try {
    await body(new InferenceService({ router, queue }), queue);
  } finally {
    await router.close();
  }
}

function call(key: string, signal = new AbortController().signal, waits?: WaitEvent[]): ServiceCall {
  return { key, signal, ...(waits ? { onWait: (e: WaitEvent) => waits.push(e) } : {}) };
}

Deno.test("generate: the backend's Generation, its batches adding up to the result; the slot held until it ends", async () => {
  await withService(async (service, queue) => {
    const waits: WaitEvent[] = [];
    const generation = await service.generate({ model: MODEL, prompt: PROMPT }, {
      maxTokens: 40,
      temperature: 0,
    }, {
      ...call("c/1", undefined, waits),
    });
    assert.equal(generation.model, MODEL);
    assert.deepEqual(waits.filter((w) => w.type === "queued"), [], "an idle queue admits it without a place");
    assert.equal(queue.stats().running, 1, "the slot is held while it runs");
    const texts: string[] = [];
    for await (const batch of generation.batches()) texts.push(...batch);
    const result = await generation.result;
    assert.equal(texts.join(""), result.text);
    assert.match(result.text, /^, there was a little girl named Lily/);
    assert.deepEqual([result.stopReason, result.usage.generatedTokens], ["max_tokens", 40]);
    assert.equal(queue.stats().running, 0, "given back at its end");
    assert.deepEqual(
      waits.filter((w) => w.type === "loading").map((w) => w.type === "loading" && w.phase.phase),
      ["mmap", "kv_cache"],
    );

    const chat = await service.generate(
      { model: MODEL, messages: [{ role: "user", content: "Tell me a story." }] },
      { maxTokens: 8, temperature: 0 },
      call("c/2"),
    );
    assert.ok((await chat.result).usage.promptTokens > 5, "counted through the chat layout");
  });
});

Deno.test("generate: a second request waits its turn (told its place); a cancel rejects with its reason and frees the slot", async () => {
  await withService(async (service, queue) => {
    const first = await service.generate({ model: MODEL, prompt: PROMPT }, { maxTokens: 200 }, call("c/1"));
    const waits: WaitEvent[] = [];
    const controller = new AbortController();
    const second = service.generate(
      { model: MODEL, prompt: PROMPT },
      { maxTokens: 3 },
      call("c/2", controller.signal, waits),
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(waits, [{ type: "queued", position: 1 }]);
    const reason = new LodeError("CANCELLED", "the request was cancelled");
    controller.abort(reason);
    await assert.rejects(second, (e: unknown) => e === reason);
    for await (const _ of first) break; // leaving the loop stops the first and frees its slot
    assert.equal((await first.result).stopReason, "abort");
    const running = new AbortController();
    const third = await service.generate(
      { model: MODEL, prompt: PROMPT },
      { maxTokens: 100 },
      call("c/3", running.signal),
    );
    const cancelled = new LodeError("DRAINING", "the daemon is shutting down");
    running.abort(cancelled);
    await assert.rejects(third.result, (e: unknown) => e === cancelled);
    assert.equal(queue.stats().running, 0);
  }, { tokenDelayMs: 5 });
});

Deno.test("an input longer than the context names its field; tokenize, embed, models, load answer typed", async () => {
  await withService(async (service) => {
    const long = Array(4003).fill("a").join(" ");
    const refused = (field: string) => (e: unknown) =>
      isLodeError(e, "CONTEXT_LENGTH_EXCEEDED") && e.details.field === field &&
      e.details.context_size === 2048;
    const g = await service.generate({ model: MODEL, prompt: long }, {}, call("c/1"));
    await assert.rejects(g.result, refused("prompt"));
    const c = await service.generate(
      { model: MODEL, messages: [{ role: "user", content: long }] },
      {},
      call("c/2"),
    );
    await assert.rejects(async () => {
      for await (const _ of c.batches()); // the iteration reports the same error
    }, refused("messages"));
    await assert.rejects(service.embed(MODEL, ["a", long], {}, call("c/3")), refused("input"));

    const { tokens } = await service.tokenize(MODEL, PROMPT, call("c/4"));
    assert.equal((await service.detokenize(MODEL, tokens, call("c/5"))).text, PROMPT);
    await assert.rejects(
      service.detokenize(MODEL, [1, 600], call("c/6")),
      (e: unknown) => isLodeError(e, "BAD_REQUEST") && e.details.field === "tokens.1",
    );
    const embedded = await service.embed(MODEL, ["a red ball"], {}, call("c/7"));
    assert.deepEqual([embedded.model, embedded.embeddings.length, embedded.embeddings[0]!.length], [
      MODEL,
      1,
      64,
    ]);
    const loaded = await service.load(MODEL, {}, call("c/8"));
    assert.deepEqual([loaded.model, loaded.info.contextSize, loaded.capabilities.embed], [MODEL, 2048, true]);
    assert.deepEqual((await service.models()).map((m) => [m.name, m.loaded]), [[MODEL, true]]);
    await assert.rejects(
      service.tokenize("nope", "x", call("c/9")),
      (e: unknown) => isLodeError(e, "MODEL_NOT_FOUND"),
    );
  });
});

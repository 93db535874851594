import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { isLodeError } from "../errors.ts";
import { createPlainChatWrapper } from "./llama_cpp_chat.ts";
import { PromptMeter } from "./llama_cpp_prompt.ts";

const STORIES = fromFileUrl(new URL("../../tests/fixtures/stories260K.gguf", import.meta.url));

Deno.test("PromptMeter: exact counts near the context; megabytes refused from their bytes, untokenized", async () => {
  const lib = await import("node-llama-cpp");
  const llama = await lib.getLlama({ gpu: false, build: "never", logLevel: lib.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: STORIES });
  const tokenized: string[] = [];
  const watched = Object.create(model, {
    tokenize: {
      value: (text: string, ...rest: never[]) => (tokenized.push(text), model.tokenize(text, ...rest)),
    },
  });
  const meter = new PromptMeter(watched, 256, STORIES);
  const refused = (exact: boolean, what: RegExp) => (e: unknown) =>
    isLodeError(e, "CONTEXT_LENGTH_EXCEEDED") && e.details.exact === exact &&
    e.details.context_size === 256 &&
    e.details.path === STORIES && what.test(e.message);
  try {
    assert.equal(meter.completion("Once upon a time"), 7, "BOS and six tokens");
    const words = (n: number) => Array(n).fill("a").join(" ");
    assert.equal(meter.completion(words(254)), 255);
    assert.throws(
      () => meter.completion(words(255)),
      refused(true, /^the prompt is 256 tokens and the context holds 256/),
    );

    tokenized.length = 0;
    const huge = "Once upon a time there was a little girl. ".repeat(75_000);
    assert.throws(
      () => meter.completion(huge),
      refused(false, /^the prompt is at least \d+ tokens \(3150000 bytes\) and the context holds 256/),
    );
    assert.deepEqual(tokenized, [], "a text far too long is never tokenized");

    // The plain chat layout: LlamaChat keeps one more token free, so a conversation of 255 is refused.
    const wrapper = createPlainChatWrapper(lib);
    const chat = (n: number) => [{ role: "user" as const, content: words(n) }];
    let n = 200;
    while (meter.chat(wrapper, chat(n + 1)) < 254) n++;
    assert.equal(meter.chat(wrapper, chat(n + 1)), 254);
    assert.throws(
      () => meter.chat(wrapper, chat(n + 2)),
      refused(true, /and 1 more the chat engine keeps free/),
    );
    assert.throws(
      () => meter.chat(wrapper, chat(10_000)),
      refused(false, /^the conversation .* is at least/),
    );

    meter.refuseLongTexts(["short", words(100)]);
    assert.throws(
      () => meter.refuseLongTexts(["short", huge]),
      (e: unknown) =>
        refused(false, /^text 1 is at least/)(e) && (e as { details: { index: number } }).details.index === 1,
    );
    assert.throws(
      () => meter.embedding(["a", "b"], (t) => t === "b" ? 256 : 3),
      refused(true, /^text 1 is 256 tokens/),
    );
  } finally {
    await model.dispose();
    await llama.dispose();
  }
});

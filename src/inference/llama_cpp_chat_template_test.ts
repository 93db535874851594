import { deepStrictEqual as assertEquals, ok as assert, rejects as assertRejects } from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { CHATML_TEMPLATE } from "../../scripts/gen_gguf.ts";
import { isLodeError } from "../errors.ts";
import type { ChatMessage, LoadOptions } from "./backend.ts";
import { createLlamaCppBackend } from "./llama_cpp_backend.ts";

const STORIES = fromFileUrl(new URL("../../tests/fixtures/stories260K.gguf", import.meta.url));
const MESSAGES: ChatMessage[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Hi" },
];
const LOAD = { gpu: "off", threads: 1, contextSize: 512, memoryCheck: false } as const;

Deno.test("a chat template given with the load renders the chats of a model that has none", async () => {
  const backend = createLlamaCppBackend();
  try {
    const session = await backend.load(STORIES, { ...LOAD, chatTemplate: CHATML_TEMPLATE });
    assertEquals(session.info.hasChatTemplate, true);
    // Every node-llama-cpp wrapper has a function-call syntax; lode's plain layout (no template) has none.
    assertEquals(session.capabilities.tools, true);
    const rendered = await session.renderChat(MESSAGES);
    // stories260K's vocabulary has no <|im_start|> token: the tokenizer adds word-start spaces to the pieces.
    assert(rendered.includes("<|im_start|>user"), JSON.stringify(rendered));
    assertEquals(
      rendered.replaceAll(" ", ""),
      "<s><|im_start|>system\nBebrief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
    const answer = await session.chat(MESSAGES, { maxTokens: 4, temperature: 0 }).result;
    assert(answer.usage.promptTokens > 0);
  } finally {
    await backend.close();
  }
});

Deno.test("a given template replaces the model's own layout; without one the model's own is used", async () => {
  const template = "{% for m in messages %}[{{ m['role'] | upper }}]{{ m['content'] }}\n{% endfor %}" +
    "{% if add_generation_prompt %}[ASSISTANT]{% endif %}";
  const backend = createLlamaCppBackend();
  try {
    const given = await backend.load(STORIES, { ...LOAD, chatTemplate: template });
    assert(/\[SYSTEM\] ?Be brief\.[^]*\[USER\] ?Hi[^]*\[ASSISTANT\]$/.test(await given.renderChat(MESSAGES)));
    await given.close();
    const own = await backend.load(STORIES, LOAD);
    assertEquals(own.info.hasChatTemplate, false);
    assertEquals(own.capabilities.tools, false);
    assertEquals(await own.renderChat(MESSAGES), "<s>system: Be brief.\nuser: Hi\nassistant:");
  } finally {
    await backend.close();
  }
});

Deno.test("a given template that does not render fails the load with MODEL_LOAD_FAILED naming it", async () => {
  const backend = createLlamaCppBackend();
  try {
    for (const chatTemplate of ["{% for m in messages %}", "{{ raise_exception('no') }}", "  "]) {
      await assertRejects(
        backend.load(STORIES, { ...LOAD, chatTemplate, chatTemplateName: "template.jinja" }),
        (e: unknown) => {
          assert(isLodeError(e, "MODEL_LOAD_FAILED"), String(e));
          assert(e.message.includes("chat template template.jinja"), e.message);
          assertEquals(e.details.chat_template, "template.jinja");
          return true;
        },
      );
    }
    // The backend still loads afterwards.
    const session = await backend.load(STORIES, { ...LOAD, chatTemplate: CHATML_TEMPLATE });
    assert((await session.renderChat(MESSAGES)).includes("<|im_start|>user"));
  } finally {
    await backend.close();
  }
});

Deno.test("a chat template that is not a string is refused with USAGE before anything loads", async () => {
  const backend = createLlamaCppBackend();
  try {
    const bad = { ...LOAD, chatTemplate: 42 } as unknown as LoadOptions;
    await assertRejects(backend.load(STORIES, bad), (e: unknown) => isLodeError(e, "USAGE"));
  } finally {
    await backend.close();
  }
});

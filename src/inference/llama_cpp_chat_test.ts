import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { CHATML_TEMPLATE, writeGgufModel } from "../../scripts/gen_gguf.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { isLodeError } from "../errors.ts";
import type { ChatMessage, Session } from "./backend.ts";
import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
import { createPlainChatWrapper, PLAIN_CHAT_WRAPPER_NAME, toChatHistory } from "./llama_cpp_chat.ts";

const STORIES = fromFileUrl(new URL("../../tests/fixtures/stories260K.gguf", import.meta.url));
const MESSAGES: ChatMessage[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Hi" },
];
const LOAD = { gpu: "off", threads: 1, contextSize: 512 } as const;

/**
 * node-llama-cpp's own chat, independent of lode's session: LlamaChat with
 * `wrapper` (or the one node-llama-cpp resolves from the GGUF) on a fresh
 * context. Returns its wrapper's rendering of MESSAGES, the text it
 * generated greedily, and the context tokens (prompt + answer) as text.
 */
async function nodeLlamaCppChat(path: string, plain: boolean) {
  const lib = await import("node-llama-cpp");
  const llama = await lib.getLlama({ gpu: false, build: "never", logLevel: lib.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: path });
  try {
    const context = await model.createContext({ contextSize: 512, threads: 1 });
    const wrapper = plain ? createPlainChatWrapper(lib) : lib.resolveChatWrapper(model);
    const history = [
      { type: "system", text: "Be brief." },
      { type: "user", text: "Hi" },
    ] as const;
    const { contextText } = wrapper.generateContextState({
      chatHistory: [...history, { type: "model", response: [] }],
    });
    const rendered = model.detokenize(contextText.tokenize(model.tokenizer), true);
    const sequence = context.getSequence();
    const chat = new lib.LlamaChat({ contextSequence: sequence, chatWrapper: wrapper });
    const { response } = await chat.generateResponse([...history], { maxTokens: 12, repeatPenalty: false });
    const fed = model.detokenize(sequence.contextTokens, true);
    await context.dispose();
    return { wrapperName: wrapper.wrapperName, rendered, response, fed };
  } finally {
    await model.dispose();
  }
}

/** renderChat equals node-llama-cpp's rendering, is what chat feeds, and chat answers like LlamaChat. */
async function assertSameAsNodeLlamaCpp(session: Session, path: string, plain: boolean): Promise<string> {
  const ours = await session.renderChat(MESSAGES);
  const theirs = await nodeLlamaCppChat(path, plain);
  assertEquals(ours, theirs.rendered);
  assert(
    theirs.fed.startsWith(ours),
    `${JSON.stringify(theirs.fed)} does not start with ${JSON.stringify(ours)}`,
  );
  const answer = await session.chat(MESSAGES, { maxTokens: 12, temperature: 0 }).result;
  assertEquals(answer.text, theirs.response);
  assertEquals(answer.usage.generatedTokens, 12);
  return theirs.wrapperName;
}

Deno.test("a model without a chat template chats in the plain role: content layout, as LlamaChat does", async () => {
  const backend = createLlamaCppBackend();
  try {
    const session = await backend.load(STORIES, LOAD);
    assertEquals(session.info.hasChatTemplate, false);
    assertEquals(await session.renderChat(MESSAGES), "<s>system: Be brief.\nuser: Hi\nassistant:");
    assertEquals(
      await session.renderChat([...MESSAGES, { role: "assistant", content: "Hello." }, {
        role: "user",
        content: "Go",
      }]),
      "<s>system: Be brief.\nuser: Hi\nassistant: Hello.\nuser: Go\nassistant:",
    );
    assertEquals(await assertSameAsNodeLlamaCpp(session, STORIES, true), PLAIN_CHAT_WRAPPER_NAME);
    // The plain layout's turn markers end the answer (the model writes dialogue, so one shows up soon).
    const long = await session.chat([{ role: "user", content: "Once upon a time" }], { maxTokens: 300 })
      .result;
    assert(!/\n(user|system|assistant):/.test(long.text), JSON.stringify(long.text));
  } finally {
    await backend.close();
  }
});

Deno.test("a model with a ChatML template chats through it, as node-llama-cpp renders it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/chatml.gguf`;
    await writeGgufModel(path, {
      sizeBytes: 1024 * 1024,
      tensorType: "f32",
      seed: 3,
      chatTemplate: CHATML_TEMPLATE,
    });
    const backend = createLlamaCppBackend();
    try {
      const session = await backend.load(path, LOAD);
      assertEquals(session.info.hasChatTemplate, true);
      assertEquals(await assertSameAsNodeLlamaCpp(session, path, false), "ChatML");
      // The 512-token test vocabulary has no <|im_start|> token, so the SentencePiece tokenizer adds a
      // word-start space before each piece of template text; spaces aside, it is the ChatML layout.
      const rendered = await session.renderChat(MESSAGES);
      assertEquals(
        rendered.replaceAll(" ", ""),
        "<s><|im_start|>system\nBebrief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
      );
    } finally {
      await backend.close();
    }
  }, { prefix: "lode-chat-" });
});

Deno.test("a model with a template no built-in wrapper knows is rendered by the Jinja template itself", async () => {
  const template = "{% for m in messages %}[{{ m['role'] | upper }}]{{ m['content'] }}\n{% endfor %}" +
    "{% if add_generation_prompt %}[ASSISTANT]{% endif %}";
  await withTempDir(async (dir) => {
    const path = `${dir}/custom.gguf`;
    await writeGgufModel(path, {
      sizeBytes: 1024 * 1024,
      tensorType: "f32",
      seed: 4,
      chatTemplate: template,
    });
    const backend = createLlamaCppBackend();
    try {
      const session = await backend.load(path, LOAD);
      assertEquals(await assertSameAsNodeLlamaCpp(session, path, false), "JinjaTemplate");
      const rendered = await session.renderChat(MESSAGES);
      assert(
        /\[SYSTEM\] ?Be brief\.[^]*\[USER\] ?Hi[^]*\[ASSISTANT\]$/.test(rendered),
        JSON.stringify(rendered),
      );
    } finally {
      await backend.close();
    }
  }, { prefix: "lode-chat-" });
});

Deno.test("toChatHistory maps roles and refuses malformed conversations", () => {
  assertEquals(toChatHistory([...MESSAGES, { role: "assistant", content: "Hello." }]), [
    { type: "system", text: "Be brief." },
    { type: "user", text: "Hi" },
    { type: "model", response: ["Hello."] },
  ]);
  for (const bad of [[], [{ role: "tool", content: "x" }], [{ role: "user", content: 1 }], [null]]) {
    assertThrows(() => toChatHistory(bad as ChatMessage[]), (e: unknown) => isLodeError(e, "USAGE"));
  }
});

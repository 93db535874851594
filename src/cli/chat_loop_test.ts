import assert from "node:assert/strict";
import type { ChatMessage, GenerateOptions, Generation, Session } from "../inference/backend.ts";
import { isLodeError } from "../errors.ts";
import { contextLengthExceeded } from "../inference/context_limit.ts";
import { createGeneration } from "../inference/generation.ts";
import { type ChatIo, ChatLoop } from "./chat_loop.ts";

/** A session whose answers are "answer N" (one word per tick); it records what each turn was sent. */
function fakeSession(options: { words?: number; tickMs?: number } = {}) {
  const calls: ChatMessage[][] = [];
  let turn = 0;
  const session: Pick<Session, "chat"> = {
    chat(messages: ChatMessage[], generate?: GenerateOptions): Generation {
      calls.push(structuredClone(messages));
      const n = ++turn;
      return createGeneration(async (emit, signal) => {
        let text = "";
        for (let i = 0; i < (options.words ?? 2); i++) {
          if (options.tickMs) await new Promise((r) => setTimeout(r, options.tickMs));
          if (signal.aborted) break;
          const word = i === 0 ? `answer` : ` ${n}`;
          emit(word);
          text += word;
        }
        const usage = {
          promptTokens: 1,
          generatedTokens: text.length,
          loadMs: 0,
          timeToFirstTokenMs: 0,
          totalMs: 0,
          tokensPerSecond: 0,
        };
        return { text, stopReason: signal.aborted ? "abort" : "eos", usage };
      }, { signal: generate?.signal });
    },
  };
  return { session, calls };
}

/** Scripted input: strings are lines, functions run when the loop asks for the next line. */
function fakeIo(script: (string | (() => void))[], json = false) {
  const out: string[] = [];
  const notes: string[] = [];
  const events: object[] = [];
  let prompts = 0;
  const io: ChatIo = {
    readLine: async () => {
      while (true) {
        const next = script.shift();
        if (next === undefined) return null;
        if (typeof next === "string") return next;
        next();
        await new Promise((r) => setTimeout(r, 0));
      }
    },
    answer: (t) => out.push(t),
    note: (l) => notes.push(l),
    prompt: () => prompts++,
    event: (e) => events.push(e),
    json,
  };
  return { io, out, notes, events, prompts: () => prompts };
}

Deno.test("chat: every turn sends the whole history; /reset keeps only the system message", async () => {
  const { session, calls } = fakeSession();
  const { io, out, notes, events } = fakeIo([
    "Hi",
    "",
    "  How are you?  ",
    "/reset",
    "Again",
    "/exit",
    "never read",
  ]);
  const loop = new ChatLoop(session, { io, generate: { maxTokens: 5 }, system: "Be brief." });
  assert.equal(await loop.run(), "exit");
  const sys = { role: "system", content: "Be brief." } as const;
  assert.deepEqual(calls, [
    [sys, { role: "user", content: "Hi" }],
    [sys, { role: "user", content: "Hi" }, { role: "assistant", content: "answer 1" }, {
      role: "user",
      content: "How are you?",
    }],
    [sys, { role: "user", content: "Again" }],
  ]);
  assert.equal(out.join(""), "answer 1\nanswer 2\nanswer 3\n");
  // Without --json the answers are events too (for the command's stream), besides the text.
  assert.equal(events.filter((e) => (e as { event: string }).event === "done").length, 3);
  assert.deepEqual(notes, ["(history cleared)"]);
  assert.deepEqual(loop.history, [{ role: "user", content: "Again" }, {
    role: "assistant",
    content: "answer 3",
  }]);
});

Deno.test("chat: end of input ends the chat; unknown slash commands are explained, not sent", async () => {
  const { session, calls } = fakeSession();
  const { io, notes } = fakeIo(["/frob", "/help"]);
  const loop = new ChatLoop(session, { io, generate: {} });
  assert.equal(await loop.run(), "eof");
  assert.equal(calls.length, 0);
  assert.match(notes[0]!, /^unknown command \/frob: \/reset clears the history/);
  assert.match(notes[1]!, /^\/reset clears the history/);
});

Deno.test("chat --json: token events and one done event per answer, no raw text", async () => {
  const { session } = fakeSession();
  const { io, out, events } = fakeIo(["Hi"], true);
  await new ChatLoop(session, { io, generate: {} }).run();
  assert.deepEqual(out, []);
  assert.deepEqual(events.slice(0, 2), [{ event: "token", text: "answer" }, { event: "token", text: " 1" }]);
  assert.deepEqual(
    events.slice(2).map((e) => [(e as { event: string }).event, (e as { stop_reason: string }).stop_reason]),
    [["done", "eos"]],
  );
});

Deno.test("chat: Ctrl-C during an answer stops only that answer; the partial answer stays in the history", async () => {
  const { session, calls } = fakeSession({ words: 20, tickMs: 1 });
  const { io, notes } = fakeIo(["Tell me a long story", "Go on"]);
  const results: string[] = [];
  const loop = new ChatLoop(session, { io, generate: {}, onResult: (r) => results.push(r.stopReason) });
  const answer = io.answer;
  let chunks = 0;
  io.answer = (text) => {
    answer(text);
    if (++chunks === 3) loop.interrupt(); // the third chunk of the first answer
  };
  assert.equal(await loop.run(), "eof");
  assert.deepEqual(results, ["abort", "eos"]);
  assert.deepEqual(notes, ["(answer stopped; kept in the history)"]);
  assert.deepEqual(calls[1], [
    { role: "user", content: "Tell me a long story" },
    { role: "assistant", content: "answer 1 1" },
    { role: "user", content: "Go on" },
  ]);
});

Deno.test("chat: an answer stopped before its first token is dropped with its question", async () => {
  const { session: inner, calls } = fakeSession({ words: 3, tickMs: 20 });
  const { io, notes } = fakeIo(["First", "Second"]);
  let first = true;
  const session: Pick<Session, "chat"> = {
    chat: (messages, options) => {
      const generation = inner.chat(messages, options);
      if (first) queueMicrotask(() => loop.interrupt()); // before the first token (20 ms away)
      first = false;
      return generation;
    },
  };
  const loop = new ChatLoop(session, { io, generate: {} });
  await loop.run();
  assert.deepEqual(notes[0], "(stopped; the question was dropped)");
  assert.deepEqual(calls[1], [{ role: "user", content: "Second" }]);
});

Deno.test("chat: Ctrl-C at the prompt prints how to quit; a second one in a row quits, a line in between disarms", async () => {
  const { session, calls } = fakeSession();
  const interrupt = () => loop.interrupt();
  const { io, notes } = fakeIo([interrupt, "Hi", interrupt, interrupt]);
  const loop = new ChatLoop(session, { io, generate: {} });
  assert.equal(await loop.run(), "interrupt");
  assert.equal(notes.filter((n) => n.includes("Ctrl-C again")).length, 2);
  assert.equal(calls.length, 1);
});

Deno.test("chat: a message too long for the context is dropped with a note on a terminal; piped, it ends the chat", async () => {
  const refusing = (): Pick<Session, "chat"> => {
    const { session } = fakeSession();
    return {
      chat(messages, generate) {
        const long = messages.some((m) => m.content.length > 20);
        if (!long) return session.chat(messages, generate);
        return createGeneration(() => {
          throw contextLengthExceeded({
            input: { kind: "conversation" },
            count: { tokens: 99, exact: true },
            contextSize: 64,
          });
        });
      },
    };
  };
  const typed = fakeIo(["Hi", "x".repeat(30), "Again", "/exit"]);
  const loop = new ChatLoop(refusing(), { io: typed.io, generate: {}, interactive: true });
  assert.equal(await loop.run(), "exit");
  assert.deepEqual(loop.history.map((m) => m.content), ["Hi", "answer 1", "Again", "answer 2"]);
  assert.match(typed.notes.join("\n"), /is 99 tokens and the context holds 64: .*The message was dropped/);

  const piped = fakeIo(["Hi", "x".repeat(30), "Again"]);
  const ended = new ChatLoop(refusing(), { io: piped.io, generate: {} });
  await assert.rejects(ended.run(), (e: unknown) => isLodeError(e, "CONTEXT_LENGTH_EXCEEDED"));
  assert.equal(ended.history.length, 2);
});

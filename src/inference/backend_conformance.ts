/**
 * The conformance suite every {@link Backend} must pass, built-in or a
 * plugin's: `backendConformance(name, makeBackend, fixtures)` registers one
 * `Deno.test` whose steps load a small model once and check the whole
 * contract — load events, deterministic greedy text, `maxTokens`, stop
 * strings, prompt aborts, embeddings, tokenize/detokenize
 * (backend_conformance_vocabulary.ts), JSON-schema output, chat, the
 * context's limit (backend_conformance_context.ts), tools
 * (backend_conformance_tools.ts), close, and a non-model file. Call it
 * from a `_test.ts` file. A session's {@link SessionFeatures} flags decide
 * the checks that need them: a backend that says it cannot tokenize exactly
 * is checked to refuse, not to tokenize.
 *
 * The model fixture must be a small text model that generates at least a
 * few words for "Once upon a time" at temperature 0 (stories260K does).
 *
 * @example
 * ```ts
 * import { backendConformance } from "./backend_conformance.ts";
 * import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
 * backendConformance("llamacpp", () => createLlamaCppBackend(), { model: "tests/fixtures/stories260K.gguf" });
 * ```
 * @module
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Capabilities, StatusEvent } from "../events/status_event.ts";
import type { Backend, LoadOptions, Session, SessionFeatures } from "./backend.ts";
import { drain, rejectsWith } from "./backend_conformance_assert.ts";
import { contextLimitSteps } from "./backend_conformance_context.ts";
import { toolSteps } from "./backend_conformance_tools.ts";
import { vocabularySteps } from "./backend_conformance_vocabulary.ts";

/**
 * What the suite runs against.
 *
 * @example
 * ```ts
 * import type { ConformanceFixtures } from "./backend_conformance.ts";
 * const fixtures: ConformanceFixtures = { model: "tests/fixtures/stories260K.gguf", loadOptions: { threads: 1 } };
 * ```
 */
export interface ConformanceFixtures {
  /** A small text model file. */
  model: string;
  /** The prompt to continue (default "Once upon a time"). */
  prompt?: string;
  /** Merged into every load (default `{ gpu: "off", threads: 1, contextSize: 512 }`). */
  loadOptions?: LoadOptions;
  /** How long an abort may take to end a generation, in ms (default 200). */
  abortWithinMs?: number;
  /**
   * A chat model whose sessions can call tools (`capabilities.tools`), for the tool steps
   * (backend_conformance_tools.ts); without one they run on `model` (refusals only when it cannot).
   */
  toolsModel?: string;
}

const SCHEMA = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 24 },
    happy: { type: "boolean" },
    color: { enum: ["red", "green", "blue"] },
    tags: { type: "array", items: { type: "string", maxLength: 8 }, maxItems: 2 },
  },
  required: ["name", "happy", "color"],
};

/**
 * Registers the suite as one `Deno.test` named `backend conformance: NAME`,
 * one step per rule. `makeBackend` is called once, inside the test (it may
 * start what the backend needs, such as a server, and its `close` stop it);
 * the backend is closed at the end whatever happens.
 *
 * @example
 * ```ts
 * import { backendConformance } from "./backend_conformance.ts";
 * import type { Backend } from "./backend.ts";
 * declare const myBackend: () => Backend;
 * backendConformance("mine", myBackend, { model: "tests/fixtures/stories260K.gguf", abortWithinMs: 500 });
 * ```
 */
export function backendConformance(
  name: string,
  makeBackend: () => Backend | Promise<Backend>,
  fixtures: ConformanceFixtures,
): void {
  const prompt = fixtures.prompt ?? "Once upon a time";
  const loadOptions: LoadOptions = { gpu: "off", threads: 1, contextSize: 512, ...fixtures.loadOptions };
  const abortWithinMs = fixtures.abortWithinMs ?? 200;

  Deno.test(`backend conformance: ${name}`, async (t) => {
    const backend = await makeBackend();
    const events: StatusEvent[] = [];
    let session: Session | undefined;
    try {
      session = await backend.load(fixtures.model, { ...loadOptions, onStatus: (e) => events.push(e) });
      const s = session;
      const features: SessionFeatures = s.features ??
        { tokenize: true, renderChat: true, rawEmbeddings: true, loadOptions: true };

      await t.step("load reports loading_model mmap, kv_cache, then capabilities", () => {
        for (const event of events) StatusEvent.parse(event);
        assertEquals(Capabilities.strict().parse(s.capabilities), s.capabilities);
        assertEquals(s.capabilities.backend, backend.name);
        assertEquals(s.info.path, fixtures.model);
        assert(s.info.embeddingSize > 0 && s.info.trainContextSize > 0 && s.info.loadMs >= 0);
        if (!features.loadOptions) {
          // Its load is not lode's to shape: what it reports ends with the capabilities.
          assertEquals(events.at(-1), { status: "capabilities", ...s.capabilities });
          return;
        }
        assertEquals(events.map((e) => ("phase" in e ? `${e.status}:${e.phase}` : e.status)), [
          "loading_model:mmap",
          "loading_model:kv_cache",
          "capabilities",
        ]);
        assertEquals(events[0], { status: "loading_model", phase: "mmap", path: fixtures.model });
        assertEquals(events[1], { status: "loading_model", phase: "kv_cache", n_ctx: s.info.contextSize });
        assertEquals(events[2], { status: "capabilities", ...s.capabilities });
        if (loadOptions.contextSize !== undefined) assertEquals(s.info.contextSize, loadOptions.contextSize);
      });

      await t.step("temperature 0 with a seed gives the same streamed text every time", async () => {
        const options = { maxTokens: 24, temperature: 0, seed: 42 };
        const a = await drain(s.generate(prompt, options));
        const b = await drain(s.generate(prompt, options));
        assert(a.result.text.trim().length > 0, "generated nothing");
        assertEquals(a.chunks.join(""), a.result.text);
        assertEquals(b.result.text, a.result.text);
        assert(a.result.usage.promptTokens > 0);
        assert(a.result.usage.timeToFirstTokenMs !== null && a.result.usage.tokensPerSecond > 0);
      });

      await t.step("maxTokens is respected", async () => {
        const { result } = await drain(s.generate(prompt, { maxTokens: 5 }));
        assert(result.usage.generatedTokens <= 5, `${result.usage.generatedTokens} tokens`);
        if (result.stopReason === "max_tokens") assertEquals(result.usage.generatedTokens, 5);
        else assertEquals(result.stopReason, "eos");
        await rejectsWith(s.generate(prompt, { maxTokens: 0 }).result, "USAGE");
      });

      await t.step("a stop string ends the generation and is not part of the text", async () => {
        const full = (await s.generate(prompt, { maxTokens: 40 }).result).text;
        const words = full.split(/\W+/).filter((w) => w.length >= 3);
        const stop = words[Math.min(2, words.length - 1)];
        assert(stop !== undefined, `no word to stop at in ${JSON.stringify(full)}`);
        const cut = await drain(s.generate(prompt, { maxTokens: 40, stop: ["\u0000never", stop] }));
        assertEquals(cut.result.stopReason, "stop");
        assertEquals(cut.chunks.join(""), cut.result.text);
        assert(!cut.result.text.includes(stop), `${JSON.stringify(cut.result.text)} includes ${stop}`);
        assert(
          full.startsWith(cut.result.text),
          `${JSON.stringify(cut.result.text)} vs ${JSON.stringify(full)}`,
        );
        assert(cut.result.text.length <= full.indexOf(stop), "stopped late");
        // A stop string that spans several tokens and starts mid-text (", she", " the park") stops exactly
        // where it begins: the text before it, nothing of it.
        const at = Math.max(1, Math.floor(full.length / 2));
        const span = full.slice(at, at + 9);
        const early = full.indexOf(span);
        const multi = await s.generate(prompt, { maxTokens: 40, stop: [span] }).result;
        assertEquals(multi.stopReason, "stop", JSON.stringify(span));
        assertEquals(multi.text, full.slice(0, early));
      });

      await t.step(`an abort stops the generation within ${abortWithinMs} ms, keeping the text`, async () => {
        const controller = new AbortController();
        const generation = s.generate(prompt, { signal: controller.signal }); // only the context bounds it
        const chunks: string[] = [];
        let abortedAt = 0;
        for await (const chunk of generation) {
          chunks.push(chunk);
          if (chunks.length === 3) {
            abortedAt = performance.now();
            controller.abort();
          }
        }
        const result = await generation.result;
        const ms = performance.now() - abortedAt;
        assertEquals(result.stopReason, "abort");
        assertEquals(chunks.join(""), result.text);
        assert(ms < abortWithinMs, `took ${ms.toFixed(0)} ms to stop`);

        const early = new AbortController();
        early.abort();
        const none = await drain(s.generate(prompt, { signal: early.signal }));
        assertEquals([none.chunks, none.result.stopReason, none.result.usage.generatedTokens], [
          [],
          "abort",
          0,
        ]);

        const left = s.generate(prompt);
        for await (const _ of left) break; // leaving the loop aborts too
        assertEquals((await left.result).stopReason, "abort");
        assert(
          (await s.generate(prompt, { maxTokens: 3 }).result).usage.generatedTokens > 0,
          "session unusable",
        );
      });

      await t.step(
        "embed gives one vector of embeddingSize numbers per text, normalized by default",
        async () => {
          const texts = ["Once upon a time", "The cat sat on the mat.", "Once upon a time"];
          const vectors = await s.embed(texts);
          assertEquals(vectors.length, texts.length);
          for (const v of vectors) {
            assertEquals(v.length, s.info.embeddingSize);
            assert(v.every(Number.isFinite));
            assert(Math.abs(Math.hypot(...v) - 1) < 1e-6, `length ${Math.hypot(...v)}`);
          }
          assertEquals(vectors[2], vectors[0]);
          assert(
            vectors[1]!.some((x, i) => Math.abs(x - vectors[0]![i]!) > 1e-6),
            "different texts, same vector",
          );
          if (features.rawEmbeddings) {
            const [raw] = await s.embed([texts[0]!], { normalize: false });
            const norm = Math.hypot(...raw!);
            assert(
              raw!.every((x, i) => Math.abs(x / norm - vectors[0]![i]!) < 1e-6),
              "normalized ≠ raw / |raw|",
            );
          } else {
            await rejectsWith(s.embed([texts[0]!], { normalize: false }), "INFERENCE_FAILED");
          }
          assertEquals(s.capabilities.embed, true);
          await rejectsWith(s.embed([""]), "USAGE");
          const cancelled = new AbortController();
          cancelled.abort();
          await rejectsWith(s.embed(["x"], { signal: cancelled.signal }), "INTERRUPTED");
        },
      );

      await vocabularySteps(t, backend, s, { model: fixtures.model, prompt, features });

      await t.step("jsonSchema output parses as JSON that matches the schema", async () => {
        const { result } = await drain(s.generate(prompt, { maxTokens: 200, jsonSchema: SCHEMA }));
        assertEquals(result.stopReason, "eos", `cut short: ${JSON.stringify(result.text)}`);
        const value = JSON.parse(result.text);
        assertEquals(Object.keys(value).sort(), ["color", "happy", "name", "tags"]);
        assert(typeof value.name === "string" && value.name.length <= 24, JSON.stringify(value));
        assert(typeof value.happy === "boolean", JSON.stringify(value));
        assert(["red", "green", "blue"].includes(value.color), JSON.stringify(value));
        assert(Array.isArray(value.tags) && value.tags.length <= 2, JSON.stringify(value));
        assert(
          value.tags.every((tag: unknown) => typeof tag === "string" && tag.length <= 8),
          JSON.stringify(value),
        );
        const chatted = await s.chat([{ role: "user", content: "Describe a cat." }], {
          maxTokens: 200,
          jsonSchema: { type: "object", properties: { happy: { type: "boolean" } } },
        }).result;
        assertEquals(typeof JSON.parse(chatted.text).happy, "boolean");
        await rejectsWith(
          s.generate(prompt, { jsonSchema: { not: { type: "integer" } } }).result,
          "SCHEMA_INVALID",
        );
        await rejectsWith(s.generate(prompt, { jsonSchema: { type: "date" } }).result, "SCHEMA_INVALID");
      });

      await t.step("chat answers through the rendered conversation", async () => {
        const messages = [
          { role: "system" as const, content: "You tell short stories." },
          { role: "user" as const, content: "Tell me about a dog." },
        ];
        if (features.renderChat) {
          const rendered = await s.renderChat(messages);
          for (const m of messages) assert(rendered.includes(m.content.split(" ")[0]!), rendered);
          assertEquals(await s.renderChat(messages), rendered);
        } else {
          await rejectsWith(s.renderChat(messages), "INFERENCE_FAILED");
        }
        const a = await drain(s.chat(messages, { maxTokens: 16, temperature: 0 }));
        const b = await s.chat(messages, { maxTokens: 16, temperature: 0 }).result;
        assertEquals(a.chunks.join(""), a.result.text);
        assertEquals(b.text, a.result.text);
        assert(["eos", "stop", "max_tokens"].includes(a.result.stopReason), a.result.stopReason);
        if (features.tokenize) {
          assert(a.result.usage.promptTokens > (await s.tokenize(messages[1]!.content)).length);
        } else {
          assert(a.result.usage.promptTokens > 0);
        }
        await rejectsWith(s.chat([]).result, "USAGE");
        // deno-lint-ignore no-explicit-any -- a caller outside TypeScript
        await rejectsWith(s.chat([{ role: "robot", content: "x" } as any]).result, "USAGE");
      });

      await contextLimitSteps(t, s, prompt, features);

      await toolSteps(
        t,
        fixtures.toolsModel === undefined ? s : { backend, model: fixtures.toolsModel, loadOptions },
      );

      await t.step(
        "close is idempotent; a running generation ends with abort; calls after close reject",
        async () => {
          const other = await backend.load(fixtures.model, loadOptions);
          const running = other.generate(prompt);
          for await (const _ of running) break;
          const queued = other.generate(prompt);
          await Promise.all([other.close(), other.close()]);
          assertEquals((await queued.result).stopReason, "abort");
          await other.close();
          await rejectsWith(other.generate(prompt).result, "INFERENCE_FAILED");
          await rejectsWith(other.chat([{ role: "user", content: "hi" }]).result, "INFERENCE_FAILED");
          await rejectsWith(other.embed(["hi"]), "INFERENCE_FAILED");
          await rejectsWith(other.tokenize("hi"), "INFERENCE_FAILED");
          assert(
            (await s.generate(prompt, { maxTokens: 3 }).result).text.length > 0,
            "closing one closed another",
          );
        },
      );

      await t.step(
        "a file that is not a model fails to load with MODEL_LOAD_FAILED, a missing one with FILE_NOT_FOUND; probe says why",
        async () => {
          const dir = await Deno.makeTempDir({ prefix: "lode-conformance-" });
          try {
            const notes = `${dir}/notes.gguf`;
            await Deno.writeTextFile(notes, "this is a text file, not a model\n".repeat(100));
            const good = await backend.probe(fixtures.model);
            assert(good.ok, JSON.stringify(good));
            const bad = await backend.probe(notes);
            assert(!bad.ok && bad.reason.length > 0, JSON.stringify(bad));
            assert(!(await backend.probe(`${dir}/missing.gguf`)).ok);
            await rejectsWith(backend.load(notes, loadOptions), "MODEL_LOAD_FAILED");
            await rejectsWith(backend.load(`${dir}/missing.gguf`, loadOptions), "FILE_NOT_FOUND");
            if (backend.loadVocabulary) {
              await rejectsWith(backend.loadVocabulary(notes), "MODEL_LOAD_FAILED");
              await rejectsWith(backend.loadVocabulary(`${dir}/missing.gguf`), "FILE_NOT_FOUND");
            }
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        },
      );
    } finally {
      await session?.close();
      await backend.close();
    }
  });
}

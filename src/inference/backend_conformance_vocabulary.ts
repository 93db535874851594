/**
 * The steps of the conformance suite (backend_conformance.ts) about a
 * model's vocabulary: `detokenize(tokenize(text))` gives the text back (a
 * session that says it cannot tokenize exactly is checked to refuse), and a
 * backend's vocabulary-only load, when it has one, tokenizes and
 * detokenizes exactly as its sessions do.
 *
 * @example
 * ```ts
 * import { vocabularySteps } from "./backend_conformance_vocabulary.ts";
 * import type { Backend, Session } from "./backend.ts";
 * declare const backend: Backend;
 * declare const session: Session;
 * Deno.test("vocabulary", async (t) => {
 *   await vocabularySteps(t, backend, session, { model: "tests/fixtures/stories260K.gguf", prompt: "Once upon a time" });
 * });
 * ```
 * @module
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { Backend, Session, SessionFeatures } from "./backend.ts";
import { rejectsWith } from "./backend_conformance_assert.ts";

/**
 * Runs the vocabulary steps on session `s` of `backend`, loaded from `model`: its tokenizing checked only
 * to refuse when `features.tokenize` is false (the default is true).
 *
 * @example
 * ```ts
 * import type { Backend, Session } from "./backend.ts";
 * declare const backend: Backend;
 * declare const session: Session;
 * Deno.test("vocabulary", async (t) => {
 *   await vocabularySteps(t, backend, session, { model: "tests/fixtures/stories260K.gguf", prompt: "Once upon a time" });
 * });
 * ```
 */
export async function vocabularySteps(
  t: Deno.TestContext,
  backend: Backend,
  s: Session,
  fixtures: { model: string; prompt: string; features?: Pick<SessionFeatures, "tokenize"> },
): Promise<void> {
  const { prompt } = fixtures;
  const features = fixtures.features ?? { tokenize: true };
  await t.step("detokenize(tokenize(text)) gives the text back", async () => {
    if (!features.tokenize) {
      await rejectsWith(s.tokenize(prompt), "INFERENCE_FAILED");
      await rejectsWith(s.detokenize([1]), "INFERENCE_FAILED");
      return;
    }
    for (
      const text of [
        prompt,
        "Hello, world!",
        " a leading space",
        "two\nlines  and  spaces",
        "42 + 7 = 49",
      ]
    ) {
      const tokens = await s.tokenize(text);
      assert(tokens.length > 0 && tokens.every((id) => Number.isInteger(id) && id >= 0), text);
      assertEquals(await s.detokenize(tokens), text);
    }
    assertEquals(await s.tokenize(""), []);
    await rejectsWith(s.detokenize([-1]), "USAGE");
    await rejectsWith(s.detokenize([2 ** 31]), "USAGE");
  });

  if (backend.loadVocabulary !== undefined) {
    await t.step("a vocabulary-only load tokenizes exactly as the session does", async () => {
      const vocabulary = await backend.loadVocabulary!(fixtures.model);
      const texts = [
        prompt,
        "Hello, world!",
        " a leading space",
        "two\nlines  and  spaces",
        "é 漢字 🙂",
        "<s>[INST] special-looking text </s>",
        "",
      ];
      for (const text of texts) {
        const tokens = await s.tokenize(text);
        assertEquals(vocabulary.tokenize(text), tokens, text);
        assertEquals(vocabulary.detokenize(tokens), await s.detokenize(tokens), text);
      }
      // Every id of the first 512 one by one (control, byte and plain tokens alike), and past the
      // end of a small vocabulary: the same text, or the same refusal.
      for (let id = 0; id < 512; id++) {
        const [mine, theirs] = await Promise.allSettled([
          Promise.try(() => vocabulary.detokenize([id])),
          s.detokenize([id]),
        ]);
        assertEquals(mine.status, theirs.status, `detokenize([${id}])`);
        if (mine.status === "fulfilled" && theirs.status === "fulfilled") {
          assertEquals(mine.value, theirs.value, `detokenize([${id}])`);
        }
      }
      await rejectsWith(Promise.try(() => vocabulary.detokenize([-1])), "USAGE");
      await rejectsWith(Promise.try(() => vocabulary.detokenize([2 ** 31])), "USAGE");
      await vocabulary.close();
      await vocabulary.close(); // idempotent
      await rejectsWith(Promise.try(() => vocabulary.tokenize(prompt)), "INFERENCE_FAILED");
    });
  }
}

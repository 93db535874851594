/**
 * The steps of the conformance suite (backend_conformance.ts) about the
 * context's limit (context_limit.ts): a prompt, a conversation or an
 * embedding text that does not fit is refused with
 * `CONTEXT_LENGTH_EXCEEDED` naming both numbers — at once, without waiting
 * for a running generation — and a prompt that fits is used whole.
 *
 * @example
 * ```ts
 * import { contextLimitSteps } from "./backend_conformance_context.ts";
 * import type { Session } from "./backend.ts";
 * declare const session: Session;
 * Deno.test("context", async (t) => await contextLimitSteps(t, session, "Once upon a time"));
 * ```
 * @module
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects as assertRejects } from "node:assert/strict";
import { isLodeError, type LodeError } from "../errors.ts";
import type { GenerateResult, Session, SessionFeatures } from "./backend.ts";

/** The checks of a CONTEXT_LENGTH_EXCEEDED refusal: its numbers, and more. */
function refusal(contextSize: number, extra: (details: Record<string, unknown>) => boolean = () => true) {
  return (e: unknown) => {
    assert(isLodeError(e, "CONTEXT_LENGTH_EXCEEDED"), `expected CONTEXT_LENGTH_EXCEEDED, got ${String(e)}`);
    const { prompt_tokens: tokens, context_size: size } = e.details;
    assertEquals(size, contextSize);
    assert(typeof tokens === "number" && tokens >= contextSize, JSON.stringify(e.details));
    assert(e.message.includes(String(tokens)) && e.message.includes(String(contextSize)), e.message);
    assert(extra(e.details), JSON.stringify(e.details));
    return true;
  };
}

/**
 * The space-separated text of `count` copies of `word`.
 */
function words(count: number, word = "a"): string {
  return Array(count).fill(word).join(" ");
}

/**
 * Runs the context-limit steps on an open session (whose context is small: a few hundred tokens). The
 * first step counts tokens, and a refusal before a running generation ends needs the session to count
 * them itself: both are checked only when `features.tokenize` is true (the default).
 *
 * @example
 * ```ts
 * import type { Session } from "./backend.ts";
 * declare const session: Session;
 * Deno.test("the context's limit", async (t) => await contextLimitSteps(t, session, "Once upon a time"));
 * ```
 */
export async function contextLimitSteps(
  t: Deno.TestContext,
  s: Session,
  prompt: string,
  features: Pick<SessionFeatures, "tokenize"> = { tokenize: true },
): Promise<void> {
  const n = s.info.contextSize;

  if (features.tokenize) {
    await t.step(
      "the longest prompt that fits is used whole; one word more is refused naming both numbers",
      async () => {
        let count = 1;
        while ((await s.tokenize(words(count))).length < n) count++; // with what the backend adds: too long
        let refused: Record<string, unknown> | undefined;
        let fits: GenerateResult | undefined;
        for (let k = count; fits === undefined; k--) {
          try {
            fits = await s.generate(words(k)).result; // bounded by the context only
          } catch (e) {
            refusal(n)(e);
            refused = (e as LodeError).details;
          }
        }
        assert(refused !== undefined, "the first prompt was too long");
        const used = fits.usage.promptTokens;
        assert(
          used < n && Number(refused.prompt_tokens) - used <= 3,
          `${used} and ${refused.prompt_tokens} of ${n}`,
        );
        // A prompt cut to make room would leave more room than the context has after the whole prompt.
        assert(fits.usage.generatedTokens <= n - used, JSON.stringify(fits.usage));
        assert(["context_full", "eos"].includes(fits.stopReason), fits.stopReason);
      },
    );
  }

  await t.step(
    "a prompt of megabytes is refused at once, without waiting for a running generation",
    async () => {
      const running = s.generate(prompt); // bounded by the context only
      const order: string[] = [];
      const done = running.result.then(() => order.push("running"));
      const huge = "Once upon a time there was a little girl. ".repeat(75_000); // 3 MB
      await assertRejects(s.generate(huge).result.finally(() => order.push("refused")), refusal(n));
      for await (const _ of running) break; // stops it
      await done;
      // A session that cannot count tokens leaves the refusal to what it fronts, in that one's order.
      if (features.tokenize) assertEquals(order, ["refused", "running"]);
      await assertRejects(s.chat([{ role: "user", content: huge }]).result, refusal(n));
      await assertRejects(s.embed(["fine", huge]), refusal(n, (d) => d.index === 1));
    },
  );

  await t.step(
    "a conversation is counted as rendered; an embedding text as long as the context is refused",
    async () => {
      const history = [
        { role: "system" as const, content: "You tell short stories." },
        { role: "user" as const, content: words(n) },
      ];
      await assertRejects(s.chat(history).result, refusal(n));
      await assertRejects(s.embed(["a cat", words(n)]), refusal(n, (d) => d.index === 1));
      const [vector] = await s.embed(["a cat"]);
      assertEquals(vector!.length, s.info.embeddingSize, "the session goes on");
    },
  );
}

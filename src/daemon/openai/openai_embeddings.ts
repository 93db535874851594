/**
 * A `/v1/embeddings` request answered: its inputs embedded by the inference service, in input order, as
 * numbers or base64 (`embeddingsBody`); a `dimensions` other than the model's is refused (`BAD_REQUEST`
 * with `param` `dimensions`); `usage.prompt_tokens` counts the tokens of every input.
 *
 * @example
 * ```ts
 * import { answerEmbeddings, type EmbeddingsAnswer } from "./openai_embeddings.ts";
 * declare const answer: EmbeddingsAnswer; // the service, the translated request, how the front records it…
 * const response = await answerEmbeddings(answer);
 * ```
 * @module
 */
import { embedActivity } from "../server/activity_fields.ts";
import { json } from "./error_response.ts";
import type { AnswerContext } from "./openai_generation.ts";
import { embeddingsBody } from "./openai_responses.ts";
import { badRequest, type TranslatedEmbeddings } from "./openai_translate.ts";

/**
 * What {@link answerEmbeddings} needs: the service, the call, how the front records the request, and its end.
 *
 * @example
 * ```ts
 * import type { EmbeddingsAnswer } from "./openai_embeddings.ts";
 * const base64 = (a: EmbeddingsAnswer) => a.translated.base64;
 * ```
 */
export interface EmbeddingsAnswer extends Pick<AnswerContext, "service" | "call" | "run" | "onEnd"> {
  translated: TranslatedEmbeddings;
}

/**
 * The response to an embeddings request (its status is an error's when the request fails).
 *
 * @example
 * ```ts
 * import type { EmbeddingsAnswer } from "./openai_embeddings.ts";
 * declare const answer: EmbeddingsAnswer;
 * const response = await answerEmbeddings(answer);
 * ```
 */
export async function answerEmbeddings(a: EmbeddingsAnswer): Promise<Response> {
  const t = a.translated;
  try {
    const { model } = t.request;
    const inputs = typeof t.request.input === "string" ? [t.request.input] : t.request.input;
    const vectors = await a.run(async () => {
      const embedded = await a.service.embed(model, inputs, { normalize: t.request.normalize }, a.call);
      return { value: embedded.embeddings, activity: embedActivity(embedded, inputs) };
    });
    const size = vectors[0]?.length ?? 0;
    if (t.dimensions !== undefined && t.dimensions !== size) {
      throw badRequest("dimensions", `${model} gives ${size}-dimensional embeddings, not ${t.dimensions}`);
    }
    const counts = await Promise.all(
      inputs.map(async (text) => (await a.service.tokenize(model, text, a.call)).tokens.length),
    );
    const promptTokens = counts.reduce((sum, n) => sum + n, 0);
    return json(200, embeddingsBody({ model, embeddings: vectors, promptTokens, base64: t.base64 }));
  } finally {
    a.onEnd();
  }
}

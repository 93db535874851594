/**
 * How much input a context holds, one rule for every backend: a prompt (its
 * chat template applied, a BOS token included) or an embedding text of as
 * many tokens as the context, or more, is refused with
 * `LodeError("CONTEXT_LENGTH_EXCEEDED")` before anything is evaluated — a
 * generation needs room for at least one token it produces, and llama.cpp
 * embeds only inputs shorter than the context. (llama.cpp's server draws the
 * same line.) A backend may keep more of the context free (`reserved`) and
 * then refuses that much sooner. A prompt that fits but leaves less room
 * than `maxTokens` is not refused: its generation ends with
 * `stopReason: "context_full"`.
 *
 * Counting a long input exactly takes time (a tokenizer over megabytes of
 * text takes seconds), so a backend may refuse from a lower bound instead:
 * when every token of a vocabulary stands for at most `maxTokenBytes` bytes
 * of input, a text of `b` UTF-8 bytes has at least ⌈b / maxTokenBytes⌉
 * tokens ({@link tokensAtLeast}).
 *
 * @example
 * ```ts
 * import { checkFitsContext } from "./context_limit.ts";
 * checkFitsContext({ input: { kind: "prompt" }, count: { tokens: 4004, exact: true }, contextSize: 2048 });
 * // throws CONTEXT_LENGTH_EXCEEDED: "the prompt is 4004 tokens and the context holds 2048: …"
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/**
 * What a refusal is about: a completion's prompt, a chat's rendered
 * conversation, or one of an embedding's texts.
 *
 * @example
 * ```ts
 * import type { ContextInput } from "./context_limit.ts";
 * const second: ContextInput = { kind: "text", index: 1 };
 * ```
 */
export type ContextInput = { kind: "prompt" } | { kind: "conversation" } | { kind: "text"; index: number };

/**
 * A count of an input's tokens: exact, or (`exact: false`) a lower bound
 * computed from `bytes` without tokenizing.
 *
 * @example
 * ```ts
 * import type { TokenCount } from "./context_limit.ts";
 * const bound: TokenCount = { tokens: 349526, exact: false, bytes: 3145728 };
 * ```
 */
export interface TokenCount {
  tokens: number;
  exact: boolean;
  /** The input's UTF-8 bytes, when the count was derived from them. */
  bytes?: number;
}

/**
 * One input checked against a context: what it is, its count, the context's
 * size, and the tokens the backend keeps free beyond the generated one
 * (`reserved`, default 0; node-llama-cpp's chat engine keeps one).
 *
 * @example
 * ```ts
 * import type { ContextCheck } from "./context_limit.ts";
 * const check: ContextCheck = { input: { kind: "prompt" }, count: { tokens: 12, exact: true }, contextSize: 512 };
 * ```
 */
export interface ContextCheck {
  input: ContextInput;
  count: TokenCount;
  contextSize: number;
  reserved?: number;
  /** More details of the error (the model's path). */
  details?: Record<string, unknown>;
}

/**
 * Whether an input of `tokens` tokens fits a context of `contextSize`
 * (leaving room for one generated token and `reserved` more).
 *
 * @example
 * ```ts
 * import { fitsContext } from "./context_limit.ts";
 * fitsContext(2047, 2048); // true: one token of room
 * fitsContext(2048, 2048); // false
 * fitsContext(2047, 2048, 1); // false
 * ```
 */
export function fitsContext(tokens: number, contextSize: number, reserved = 0): boolean {
  return tokens + reserved < contextSize;
}

/**
 * Throws {@link contextLengthExceeded} unless the input fits.
 *
 * @example
 * ```ts
 * import { checkFitsContext } from "./context_limit.ts";
 * checkFitsContext({ input: { kind: "text", index: 0 }, count: { tokens: 12, exact: true }, contextSize: 512 });
 * ```
 */
export function checkFitsContext(check: ContextCheck): void {
  if (!fitsContext(check.count.tokens, check.contextSize, check.reserved)) throw contextLengthExceeded(check);
}

/**
 * The `CONTEXT_LENGTH_EXCEEDED` error of an input that does not fit, naming
 * its size, the context's and the context it needs. `details`:
 * `prompt_tokens`, `context_size`, `needed_context_size`, `exact` (false:
 * `prompt_tokens` is a lower bound), `bytes` when known, `index` for an
 * embedding's text, and the check's own `details` (the model's path).
 *
 * @example
 * ```ts
 * import { contextLengthExceeded } from "./context_limit.ts";
 * contextLengthExceeded({ input: { kind: "prompt" }, count: { tokens: 4004, exact: true }, contextSize: 2048 }).message;
 * // "the prompt is 4004 tokens and the context holds 2048: it needs a context of at least 4005 tokens (the prompt and one generated token)"
 * ```
 */
export function contextLengthExceeded(check: ContextCheck): LodeError {
  const { input, count, contextSize, reserved = 0 } = check;
  const subject = input.kind === "prompt"
    ? "the prompt"
    : input.kind === "conversation"
    ? "the conversation (its chat template applied)"
    : `text ${input.index}`;
  const bytes = count.bytes === undefined ? "" : ` (${count.bytes} bytes)`;
  const size = count.exact ? `${count.tokens} tokens` : `at least ${count.tokens} tokens${bytes}`;
  const needed = count.tokens + reserved + 1;
  const what = input.kind === "prompt" ? "the prompt" : "the conversation";
  const why = input.kind === "text"
    ? "an embedding's text must be shorter than the context"
    : reserved === 0
    ? `${what} and one generated token`
    : `${what}, one generated token and ${reserved} more the chat engine keeps free`;
  return new LodeError(
    "CONTEXT_LENGTH_EXCEEDED",
    `${subject} is ${size} and the context holds ${contextSize}: ` +
      `it needs a context of at least ${needed} tokens (${why})`,
    {
      details: {
        ...check.details,
        ...(input.kind === "text" ? { index: input.index } : {}),
        prompt_tokens: count.tokens,
        context_size: contextSize,
        needed_context_size: needed,
        exact: count.exact,
        ...(count.bytes !== undefined ? { bytes: count.bytes } : {}),
      },
    },
  );
}

/**
 * The fewest tokens a text of `bytes` UTF-8 bytes can have in a vocabulary
 * whose tokens each stand for at most `maxTokenBytes` bytes of input.
 *
 * @example
 * ```ts
 * import { tokensAtLeast } from "./context_limit.ts";
 * tokensAtLeast(3 * 1024 * 1024, 9); // 349526
 * ```
 */
export function tokensAtLeast(bytes: number, maxTokenBytes: number): number {
  return Math.ceil(bytes / Math.max(1, maxTokenBytes));
}

/**
 * The UTF-8 length of `text` in bytes, without encoding it.
 *
 * @example
 * ```ts
 * import { utf8Length } from "./context_limit.ts";
 * utf8Length("é🙂"); // 6
 * ```
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

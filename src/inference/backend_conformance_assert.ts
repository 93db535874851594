/**
 * The assertions the conformance suite's steps share (backend_conformance.ts): a generation read to its
 * end, and a promise rejected with a given `LodeError` code.
 *
 * @example
 * ```ts
 * import { drain, rejectsWith } from "./backend_conformance_assert.ts";
 * import type { Session } from "./backend.ts";
 * declare const session: Session;
 * const { chunks, result } = await drain(session.generate("Once upon a time", { maxTokens: 8 }));
 * await rejectsWith(session.embed([""]), "USAGE");
 * ```
 * @module
 */
import { ok as assert, rejects as assertRejects } from "node:assert/strict";
import { type ErrorCode, isLodeError } from "../errors.ts";
import type { GenerateResult, Generation } from "./backend.ts";

/** Reads a generation to its end: the streamed chunks and the summary. */
export async function drain(generation: Generation): Promise<{ chunks: string[]; result: GenerateResult }> {
  const chunks: string[] = [];
  for await (const chunk of generation) chunks.push(chunk);
  return { chunks, result: await generation.result };
}

/** Asserts that `promise` rejects with a `LodeError` of `code`. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assertRejects(promise, (e: unknown) => {
    assert(isLodeError(e, code), `expected LodeError ${code}, got ${String(e)}`);
    return true;
  });
}

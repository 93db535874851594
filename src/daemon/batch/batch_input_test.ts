import assert from "node:assert/strict";
import { isLodeError, type LodeError } from "../../errors.ts";
import { checkBatchSize, MAX_LISTED_PROBLEMS, parseBatchInput } from "./batch_input.ts";

const chat = (id: string, body: Record<string, unknown> = {}) =>
  JSON.stringify({
    custom_id: id,
    method: "POST",
    url: "/v1/chat/completions",
    body: { messages: [{ role: "user", content: "Hi" }], ...body },
  });

function refused(text: string, options: { model?: string; maxLines?: number } = {}): LodeError {
  try {
    parseBatchInput(text, { file: "in.jsonl", ...options });
  } catch (e) {
    assert.ok(isLodeError(e, "BATCH_INVALID"), String(e));
    return e;
  }
  assert.fail("the input was accepted");
}

Deno.test("a good file: every endpoint translated, blank lines skipped, line numbers kept", () => {
  const text = [
    chat("a", { max_tokens: 5, temperature: 0 }),
    "",
    JSON.stringify({ custom_id: "b", method: "POST", url: "/v1/completions", body: { prompt: ["x", "y"] } }),
    JSON.stringify({
      custom_id: "c",
      method: "POST",
      url: "/v1/embeddings",
      body: { input: "z", model: "m" },
    }),
  ].join("\r\n") + "\n";
  const input = parseBatchInput(text, { file: "in.jsonl", model: "m" });
  assert.equal(input.model, "m");
  assert.deepEqual(input.requests.map((r) => [r.line, r.customId, r.call.kind]), [
    [1, "a", "chat"],
    [3, "b", "completion"],
    [4, "c", "embeddings"],
  ]);
  const first = input.requests[0]!.call;
  assert.equal(first.kind === "chat" && first.request.max_tokens, 5);
  const second = input.requests[1]!.call;
  assert.deepEqual(second.kind === "completion" && second.prompts, ["x", "y"]);
});

Deno.test("the model comes from the bodies when none is given", () => {
  assert.equal(parseBatchInput(chat("a", { model: "stories" }), { file: "f" }).model, "stories");
  const e = refused(chat("a"));
  assert.match(e.message, /no model/);
});

Deno.test("every bad line is listed with its number and reason, in one error", () => {
  const text = [
    chat("a"),
    "{not json",
    chat("a"),
    JSON.stringify({ custom_id: "d", method: "POST", url: "/v1/images", body: {} }),
    JSON.stringify({ custom_id: "e", method: "GET", url: "/v1/completions", body: {} }),
    chat("f", { n: 3 }),
    chat("g", { model: "other" }),
    chat("h", { stream: true }),
    JSON.stringify({ method: "POST", url: "/v1/completions", body: { prompt: "x" } }),
    JSON.stringify({
      custom_id: "j",
      method: "POST",
      url: "/v1/completions",
      body: { prompt: "x", logprobs: 2 },
    }),
  ].join("\n");
  const e = refused(text, { model: "m" });
  const problems = e.details.problems as { line: number; field?: string; message: string }[];
  assert.deepEqual(problems.map((p) => p.line), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.match(problems[0]!.message, /not JSON/);
  assert.match(problems[1]!.message, /line 1/);
  assert.equal(problems[2]!.field, "url");
  assert.equal(problems[3]!.field, "method");
  assert.equal(problems[4]!.field, "body.n");
  assert.equal(problems[5]!.field, "body.model");
  assert.equal(problems[6]!.field, "body.stream");
  assert.equal(problems[7]!.field, "custom_id");
  assert.equal(problems[8]!.field, "body.logprobs");
  assert.equal(e.details.problem_count, 9);
  assert.equal(e.details.line, 2);
  assert.match(e.message, /9 bad lines: line 2: not JSON.*\(and 6 more\)/);
});

Deno.test("the list is capped; the count is whole", () => {
  const text = Array.from({ length: 50 }, () => "[]").join("\n");
  const e = refused(text, { model: "m" });
  assert.equal((e.details.problems as unknown[]).length, MAX_LISTED_PROBLEMS);
  assert.equal(e.details.problem_count, 50);
});

Deno.test("limits: an empty file, a file over the size limit, too many requests", () => {
  assert.throws(
    () => checkBatchSize("in.jsonl", 0),
    (e) => isLodeError(e, "BATCH_INVALID") && /empty/.test(e.message),
  );
  assert.throws(
    () => checkBatchSize("in.jsonl", 11, 10),
    (e) => isLodeError(e, "BATCH_INVALID") && e.details.max_bytes === 10,
  );
  checkBatchSize("in.jsonl", 10, 10);
  assert.match(refused("\n\n  \n", { model: "m" }).message, /no request/);
  const three = [chat("a"), chat("b"), chat("c")].join("\n");
  assert.match(refused(three, { model: "m", maxLines: 2 }).message, /3 requests, over the limit of 2/);
});

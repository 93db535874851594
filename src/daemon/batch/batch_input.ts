/**
 * A batch input file checked whole before any work: one OpenAI Batch request a line
 * (`{"custom_id", "method": "POST", "url", "body"}`), each body translated exactly as the HTTP endpoint
 * of its `url` translates it (openai_translate.ts). Every problem — a line that is not JSON, a missing or
 * duplicate `custom_id`, a method other than POST, an unknown `url`, a body the endpoint would refuse, a
 * streamed request, a model other than the batch's — is collected with its line number, and the file is
 * refused with one `BATCH_INVALID` listing them (at most {@link MAX_LISTED_PROBLEMS}; `problem_count` gives
 * the total). An empty file, one over {@link MAX_BATCH_BYTES} or with more than {@link MAX_BATCH_LINES}
 * requests is refused the same way. Blank lines are skipped (they keep their number).
 *
 * @example
 * ```ts
 * import { parseBatchInput } from "./batch_input.ts";
 * const text = '{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"Hi"}]}}\n';
 * const batch = parseBatchInput(text, { file: "in.jsonl", model: "stories260K" });
 * batch.requests[0]?.call.kind; // "chat"
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { RequestOf } from "../wire/protocol.ts";
import { chatRequest, completionRequest, embeddingsRequest } from "../openai/openai_translate.ts";

/** The largest input file, in bytes (OpenAI's limit). */
export const MAX_BATCH_BYTES = 200 * 1024 * 1024;

/** The most requests one input file may hold (OpenAI's limit). */
export const MAX_BATCH_LINES = 50_000;

/** The most problems a `BATCH_INVALID` lists; `details.problem_count` counts them all. */
export const MAX_LISTED_PROBLEMS = 20;

/** The endpoints a batch line may name. */
export const BATCH_URLS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"] as const;

/** An endpoint a batch line may name. */
export type BatchUrl = typeof BATCH_URLS[number];

/** What one line asks for, translated as its endpoint translates it. */
export type BatchCall =
  | { kind: "chat"; request: RequestOf<"chat"> }
  | { kind: "completion"; request: RequestOf<"generate">; prompts: string[] }
  | { kind: "embeddings"; request: RequestOf<"embed">; base64: boolean; dimensions?: number };

/** One request of the file. */
export interface BatchRequest {
  /** Its line number (1-based). */
  line: number;
  customId: string;
  url: BatchUrl;
  call: BatchCall;
}

/** A checked input file. */
export interface BatchInput {
  /** The model every request runs on. */
  model: string;
  requests: BatchRequest[];
}

/** One problem of the file: its line (null for the file as a whole) and what is wrong. */
export interface BatchProblem {
  line: number | null;
  custom_id?: string;
  /** The offending field (`custom_id`, `url`, `body.messages.0.role`…), when there is one. */
  field?: string;
  message: string;
}

/** Options of {@link parseBatchInput}. */
export interface ParseBatchOptions {
  /** The file's name, for messages. */
  file: string;
  /** The batch's model: a body may omit `model` or name this one. Absent: the bodies' one model. */
  model?: string;
  /** Most requests (default {@link MAX_BATCH_LINES}). */
  maxLines?: number;
}

/**
 * Checks the size of an input file before it is read: `BATCH_INVALID` for an empty file or one over
 * `maxBytes` (default {@link MAX_BATCH_BYTES}).
 */
export function checkBatchSize(file: string, size: number, maxBytes = MAX_BATCH_BYTES): void {
  if (size === 0) {
    throw invalid(file, [{ line: null, message: "the file is empty: give one request a line" }]);
  }
  if (size > maxBytes) {
    throw invalid(file, [{
      line: null,
      message:
        `the file is ${size} bytes, over the limit of ${maxBytes} bytes: split it into several batches`,
    }], { size, max_bytes: maxBytes });
  }
}

/** The requests of `text`, or `BATCH_INVALID` listing every problem by line. */
export function parseBatchInput(text: string, options: ParseBatchOptions): BatchInput {
  const problems: BatchProblem[] = [];
  const requests: BatchRequest[] = [];
  const seen = new Map<string, number>();
  const maxLines = options.maxLines ?? MAX_BATCH_LINES;
  let model = options.model;
  let count = 0;
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const source = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (source.trim() === "") continue;
    count++;
    if (count > maxLines) continue;
    const checked = checkLine(source, line);
    if ("problem" in checked) {
      problems.push(checked.problem);
      const id = checked.problem.custom_id;
      if (id !== undefined && !seen.has(id)) seen.set(id, line); // a later duplicate is told too
      continue;
    }
    const { customId, url, body } = checked;
    const earlier = seen.get(customId);
    if (earlier !== undefined) {
      problems.push({
        line,
        custom_id: customId,
        field: "custom_id",
        message: `custom_id "${customId}" is also the one of line ${earlier}: each request needs its own`,
      });
      continue;
    }
    seen.set(customId, line);
    const named = typeof body.model === "string" ? body.model : undefined;
    if (named !== undefined && model !== undefined && named !== model) {
      problems.push({
        line,
        custom_id: customId,
        field: "body.model",
        message: `the body names model "${named}", the batch runs "${model}": give the same model or none`,
      });
      continue;
    }
    model ??= named;
    const call = translate(url, { ...body, model: named ?? model ?? "(unset)" });
    if ("problem" in call) {
      problems.push({ line, custom_id: customId, ...call.problem });
      continue;
    }
    requests.push({ line, customId, url, call });
  }
  if (count === 0) problems.push({ line: null, message: "the file holds no request: give one a line" });
  if (count > maxLines) {
    problems.unshift({
      line: null,
      message:
        `the file holds ${count} requests, over the limit of ${maxLines}: split it into several batches`,
    });
  }
  if (model === undefined && count > 0) {
    problems.unshift({
      line: null,
      message: "no model: pass --model, or name it in the bodies' model field",
    });
  }
  if (problems.length > 0) throw invalid(options.file, problems, { requests: count });
  return { model: model!, requests };
}

type CheckedLine = { customId: string; url: BatchUrl; body: Record<string, unknown> } | {
  problem: BatchProblem;
};

function checkLine(source: string, line: number): CheckedLine {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (e) {
    return { problem: { line, message: `not JSON: ${(e as Error).message}` } };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { problem: { line, message: "a request is a JSON object" } };
  }
  const v = value as Record<string, unknown>;
  const customId = v.custom_id;
  if (typeof customId !== "string" || customId === "") {
    return { problem: { line, field: "custom_id", message: "custom_id must be a non-empty string" } };
  }
  const at = { line, custom_id: customId };
  if (v.method !== "POST") {
    return {
      problem: { ...at, field: "method", message: `method must be "POST", got ${JSON.stringify(v.method)}` },
    };
  }
  if (typeof v.url !== "string" || !(BATCH_URLS as readonly string[]).includes(v.url)) {
    return {
      problem: {
        ...at,
        field: "url",
        message: `unknown url ${JSON.stringify(v.url)}: one of ${BATCH_URLS.join(", ")}`,
      },
    };
  }
  const body = v.body;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { problem: { ...at, field: "body", message: "body must be a JSON object (the request's body)" } };
  }
  if ((body as Record<string, unknown>).stream === true) {
    return {
      problem: { ...at, field: "body.stream", message: "a batch request is answered whole: drop stream" },
    };
  }
  return { customId, url: v.url as BatchUrl, body: body as Record<string, unknown> };
}

function translate(
  url: BatchUrl,
  body: Record<string, unknown>,
): { problem: Omit<BatchProblem, "line"> } | BatchCall {
  try {
    if (url === "/v1/chat/completions") return { kind: "chat", request: chatRequest(body, "batch").request };
    if (url === "/v1/completions") {
      const t = completionRequest(body, "batch");
      return { kind: "completion", request: t.request, prompts: t.prompts ?? [t.request.prompt] };
    }
    const t = embeddingsRequest(body, "batch");
    return {
      kind: "embeddings",
      request: t.request,
      base64: t.base64,
      ...(t.dimensions === undefined ? {} : { dimensions: t.dimensions }),
    };
  } catch (e) {
    if (!(e instanceof LodeError)) throw e;
    const field = typeof e.details.field === "string" ? `body.${e.details.field}` : "body";
    return { problem: { field, message: `${url} refuses the body: ${e.message}` } };
  }
}

function invalid(file: string, problems: BatchProblem[], extra: Record<string, unknown> = {}): LodeError {
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
  const where = (p: BatchProblem) => p.line === null ? "" : `line ${p.line}: `;
  const shown = listed.slice(0, 3).map((p) => `${where(p)}${p.message}`).join("; ");
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : "";
  const lines = problems.filter((p) => p.line !== null).length;
  const subject = lines > 0 ? `${lines} bad line${lines === 1 ? "" : "s"}` : "a problem";
  return new LodeError("BATCH_INVALID", `the batch input ${file} has ${subject}: ${shown}${more}`, {
    details: {
      file,
      line: problems.find((p) => p.line !== null)?.line ?? null,
      problems: listed,
      problem_count: problems.length,
      ...extra,
    },
  });
}

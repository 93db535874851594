/**
 * The OpenAI-compatible front on 127.0.0.1 over an in-process {@link LocalRouter} of the real backend
 * (stories260K, threads 1), with the official `openai` client pointed at it — for the front's tests.
 *
 * @example
 * ```ts
 * await withFront({}, async ({ client }) => {
 *   const c = await client.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 5 });
 * });
 * ```
 * @module
 */
import OpenAI from "openai";
import type { ActivityRecord } from "../../src/daemon/server/activity_log.ts";
import { AdmissionQueue } from "../../src/daemon/server/admission_queue.ts";
import {
  type OpenAiHttp,
  type OpenAiHttpOptions,
  startOpenAiHttp,
} from "../../src/daemon/openai/openai_http.ts";
import { LocalRouter, STORIES } from "./local_router.ts";

/** The model's name in the router. */
export const MODEL = "stories260K";
/** The prompt the fixture answers with ", there was a little girl named Lily…". */
export const PROMPT = "Once upon a time";

/** What a test gets. */
export interface World {
  http: OpenAiHttp;
  client: OpenAI;
  router: LocalRouter;
  queue: AdmissionQueue;
  records: ActivityRecord[];
}

/** Runs `body` against a fresh front, router and queue (parallel 1), closed afterwards. */
export async function withFront(
  options: {
    maxQueue?: number;
    tokenDelayMs?: number;
    apiKey?: string;
    allowOrigins?: string[];
    batchApi?: OpenAiHttpOptions["batchApi"];
  },
  body: (world: World) => Promise<void>,
): Promise<void> {
  const router = new LocalRouter({ models: { [MODEL]: STORIES }, tokenDelayMs: options.tokenDelayMs ?? 0 });
  const queue = new AdmissionQueue({ maxQueue: options.maxQueue ?? 8, parallel: 1 });
  const records: ActivityRecord[] = [];
  const http = startOpenAiHttp({
    hostname: "127.0.0.1",
    port: 0,
    router,
    queue,
    onActivity: (r) => records.push(r),
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    ...(options.allowOrigins ? { allowOrigins: options.allowOrigins } : {}),
    ...(options.batchApi ? { batchApi: options.batchApi } : {}),
  });
  const client = new OpenAI({ baseURL: http.url, apiKey: options.apiKey ?? "unused", maxRetries: 0 });
  try {
    await body({ http, client, router, queue, records });
  } finally {
    await http.close();
    await router.close();
  }
}

/** Polls `check` every 10 ms until it holds; throws after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The `APIError` that `promise` rejects with (anything else is rethrown). */
export async function apiError(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  throw new Error("expected an APIError");
}

/**
 * What a call to the inference service is told while it waits ({@link WaitEvent}): its place in its model's
 * queue, or a phase of its model's load; and the acquiring of a model that tells those phases
 * ({@link acquireTellingLoad}), the last one again every {@link LOADING_REPEAT_MS} while nothing new
 * happens (a front that writes it to a Unix socket notices a client that left: the socket tells a closed
 * peer only on write).
 *
 * @example
 * ```ts
 * import { acquireTellingLoad } from "./service_wait.ts";
 * import type { Router } from "../router/router.ts";
 * declare const router: Router;
 * const signal = new AbortController().signal;
 * const lease = await acquireTellingLoad(router, "stories260K", (e) => console.log(e), { signal });
 * lease.release();
 * ```
 * @module
 */
import type { LoadPhase } from "../../events/status_event.ts";
import type { Lease, Router } from "../router/router.ts";

/** While a load goes on without a new phase (a slow download), its last phase is told again this often. */
export const LOADING_REPEAT_MS = 1000;

/**
 * What a call is told while it waits: its place in its model's queue, or a phase of its model's load.
 *
 * @example
 * ```ts
 * import type { WaitEvent } from "./service_wait.ts";
 * const say = (e: WaitEvent) => e.type === "queued" ? `#${e.position}` : e.phase.phase;
 * ```
 */
export type WaitEvent = { type: "queued"; position: number } | { type: "loading"; phase: LoadPhase };

/**
 * Acquires `model` from `router`, telling `onWait` each phase of its load while it waits (the router names
 * the model by its store name once known: `nameOf`), the last one again every {@link LOADING_REPEAT_MS}.
 */
export async function acquireTellingLoad(
  router: Router,
  model: string,
  onWait: ((event: WaitEvent) => void) | undefined,
  options: Parameters<Router["acquire"]>[1] & { signal: AbortSignal },
): Promise<Lease> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tell = (phase: LoadPhase) => {
    clearTimeout(timer);
    onWait?.({ type: "loading", phase });
    timer = setTimeout(() => tell(phase), LOADING_REPEAT_MS);
  };
  const stop = onWait === undefined ? () => {} : router.onStatus(({ model: name, event }) => {
    if (event.status !== "loading_model" && event.status !== "restarting") return;
    if (name !== model && name !== router.nameOf?.(model)) return;
    const { status: _, ...phase } = event;
    tell(phase);
  });
  try {
    return await router.acquire(model, options);
  } finally {
    stop();
    clearTimeout(timer);
  }
}

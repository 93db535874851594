/**
 * The errors the router (model_router.ts) makes itself: a load nobody waits
 * for any more, a load asked of a closing router, a model that left the
 * store while it was being loaded. What the store, the memory check and the
 * runners throw passes through unchanged.
 *
 * @example
 * ```ts
 * import { draining, loadInterrupted } from "./router_errors.ts";
 * loadInterrupted("stories260K").code; // "INTERRUPTED"
 * draining().code; // "DRAINING"
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";

/**
 * The error of an acquirer that stopped waiting for `model`'s load (or of a load abandoned).
 *
 * @example
 * ```ts
 * import { loadInterrupted } from "./router_errors.ts";
 * loadInterrupted("stories260K").code; // "INTERRUPTED"
 * ```
 */
export function loadInterrupted(model: string): LodeError {
  return new LodeError("INTERRUPTED", `loading model "${model}" was cancelled`, { details: { model } });
}

/**
 * The error of a load asked of a router that is closing.
 *
 * @example
 * ```ts
 * import { draining } from "./router_errors.ts";
 * draining().code; // "DRAINING"
 * ```
 */
export function draining(): LodeError {
  return new LodeError("DRAINING", "the daemon is shutting down and loads no more models");
}

/**
 * The error of a load whose model left the store (`lode rm`) after its name resolved.
 *
 * @example
 * ```ts
 * import { removedWhileLoading } from "./router_errors.ts";
 * removedWhileLoading("stories260K").code; // "MODEL_NOT_FOUND"
 * ```
 */
export function removedWhileLoading(model: string): LodeError {
  return new LodeError(
    "MODEL_NOT_FOUND",
    `model "${model}" was removed from the store while it was being loaded`,
    {
      details: { name: model },
    },
  );
}

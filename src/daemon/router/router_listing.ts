/**
 * What the router tells of its models on the wire (`models`, `load`): every
 * model in the store, whether it is loaded, and of a loaded one its context
 * size, capabilities and the time left before its keep-alive unloads it. A
 * model still loaded that the store no longer holds (a request still running
 * on it after `lode rm`) is listed too, until its runner stops.
 *
 * @example
 * ```ts
 * import { listModels } from "./router_listing.ts";
 * import { ModelStore } from "../../store/model_store.ts";
 * const store = await ModelStore.open("/srv/models");
 * const models = await listModels(store, new Map(), performance.now());
 * console.log(models.map((m) => `${m.name} ${m.loaded ? "loaded" : ""}`));
 * ```
 * @module
 */
import type { ModelStore } from "../../store/model_store.ts";
import type { ModelEntry } from "../wire/protocol.ts";
import type { ModelState } from "./model_state.ts";

/**
 * Every model of `store`, with the fields of the `loaded` ones (by store name) at `now`; then the loaded ones
 * the store does not list.
 *
 * @example
 * ```ts
 * import { listModels } from "./router_listing.ts";
 * import type { ModelState } from "./model_state.ts";
 * import type { ModelStore } from "../../store/model_store.ts";
 * declare const store: ModelStore, loaded: Map<string, ModelState>;
 * const names = (await listModels(store, loaded, performance.now())).map((m) => m.name);
 * ```
 */
export async function listModels(
  store: Pick<ModelStore, "list">,
  loaded: Map<string, ModelState>,
  now: number,
): Promise<ModelEntry[]> {
  const { models } = await store.list();
  const out: ModelEntry[] = models.map((m) => {
    const state = loaded.get(m.name);
    return {
      name: m.name,
      loaded: state !== undefined,
      size_bytes: m.size_bytes,
      digest: m.blob,
      ...(state ? loadedFields(state, now) : {}),
    };
  });
  for (const [name, state] of loaded) {
    if (!models.some((m) => m.name === name)) out.push({ name, loaded: true, ...loadedFields(state, now) });
  }
  return out;
}

/**
 * What `models` and `load` tell of a loaded model at `now`: its context size, capabilities and time left
 * before its keep-alive unloads it (null: never); nothing while it loads.
 *
 * @example
 * ```ts
 * import { loadedFields } from "./router_listing.ts";
 * import type { ModelState } from "./model_state.ts";
 * declare const state: ModelState;
 * loadedFields(state, performance.now()); // { context_size: 2048, capabilities: {…}, expires_in_ms: 299000 }
 * ```
 */
export function loadedFields(state: ModelState, now: number): Partial<ModelEntry> {
  const session = state.session;
  if (session === null) return {};
  const expiresAt = state.expiresAt;
  return {
    context_size: session.info.contextSize,
    capabilities: session.capabilities,
    expires_in_ms: expiresAt === null ? null : Math.max(0, Math.round(expiresAt - now)),
  };
}

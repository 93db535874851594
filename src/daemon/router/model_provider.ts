/**
 * The daemon's {@link ProvideModel}: what `lode serve` does for a model the
 * store lacks (the router asks it on `MODEL_NOT_FOUND`, `BLOB_MISSING` and
 * for requests naming a reference).
 *
 * - **A name the lockfile pins** is installed exactly as `lode sync NAME`
 *   would ({@link syncLockfile}: locked blobs checked, only what is missing
 *   pulled from the locked URLs, pins verified). The lockfile is read again
 *   on every miss, so an edit applies without a restart; the daemon never
 *   writes it (an unpinned file is pulled, and `lode sync` pins it).
 * - **A reference** (`hf:…`, `https://…#sha256=…`) is resolved by its
 *   registry and pulled as `lode pull REF` would (the same task,
 *   `pullReference` of src/registry/pull_reference.ts); the model is stored under
 *   the name the registry gives it (told to `onName` before any byte is
 *   fetched). A later request with the same reference resolves to the same
 *   name, and the pull then finds it in the store (no download). The router
 *   asks {@link createStoredName}'s lookup first, so a reference the store
 *   holds — a URL, an `hf:` reference pinned to a commit — never gets here;
 *   an unpinned `hf:` reference does: it asks the Hub which commit it is
 *   now, as `lode run` and `lode pull` do.
 * - Anything else: null (the router answers `MODEL_NOT_FOUND`).
 *
 * With `pullJob` (as `lode serve` composes it) a reference is pulled as a download job of the daemon
 * (`DaemonJobs.pull`): `lode job ls` lists it, `lode job watch` follows it, a client's `lode pull --socket`
 * of the same reference joins it.
 *
 * Pulls share the daemon's one pull context (global connection budget, HTTP
 * clients, host policy; per-name and per-blob store locks) and are aborted
 * when every request waiting for the load went away (partials are kept for
 * the next try). Their download events are published once on the daemon's
 * event stream (`events`, source `download`), and their progress goes to `onStatus` as `loading_model`
 * `download` (at most one per `statusIntervalMs` per pull, plus the last),
 * `verify` and `quarantine` phases. Offline, nothing is downloaded: a model
 * that needs bytes fails with `OFFLINE`. Credentials come from the registries
 * (`credentials`: the daemon's own `HF_TOKEN` for the Hub's host), never from a client: an
 * `ACCESS_DENIED` says so in its hint.
 * @module
 */
import type { PullContext } from "../../download/pull_context.ts";
import type { PullEffect } from "../../jobs/job_context.ts";
import { isLodeError, LodeError } from "../../errors.ts";
import type { DownloadEvent } from "../../events/download_event.ts";
import type { EventStream } from "../../events/event_stream.ts";
import type { StatusEvent } from "../../events/status_event.ts";
import { findEntry, type Lockfile } from "../../lock/lockfile.ts";
import { syncLockfile } from "../../lock/sync.ts";
import { parseRef } from "../../registry/reference.ts";
import type { RegistryContext, RegistrySettings } from "../../registry/registry.ts";
import { lookUpReference, type RegistryLookup } from "../../registry/registry_lookup.ts";
import type { CredentialsLookup } from "../../registry/credentials.ts";
import type { ModelStore } from "../../store/model_store.ts";
import type { ProvideModel, StoredName } from "./router_names.ts";
import { downloadPhases } from "../../events/download_status.ts";

/**
 * Effects and switches of {@link createModelProvider}.
 *
 * @example
 * ```ts
 * import type { ModelProviderOptions } from "./model_provider.ts";
 * const offline = (o: ModelProviderOptions): ModelProviderOptions => ({ ...o, offline: true });
 * ```
 */
export interface ModelProviderOptions {
  store: ModelStore;
  /** The lockfile as it is now (null: none). Called on every miss. Default: none. */
  lockfile?: () => Promise<Lockfile | null>;
  /** The daemon's pull context for `urls` (their hosts allowed): one connection budget for every pull. */
  pullContext(urls: string[]): Promise<PullContext>;
  /** What a registry resolves with (GETs to the allowed hosts plus `hosts`). */
  registryContext(hosts: string[]): Promise<RegistryContext>;
  /** The daemon's registry settings (`HF_ENDPOINT`, … of its config; the secrets are the registries'). */
  settings?: RegistrySettings;
  /**
   * The daemon's credentials for a host of a plan, asked of the plan's registry (its `registry.credentials`
   * hook: the daemon's `HF_TOKEN` for the Hub's host); default: those `settings` hold.
   */
  credentials?: CredentialsLookup;
  /**
   * The registry claiming a reference's scheme: one lookup in the daemon's plugin driver, built-ins and
   * registry plugins alike (default: the built-ins alone).
   */
  lookupRegistry?: RegistryLookup;
  /** Never download (`--offline`). */
  offline?: boolean;
  /** Resolve and pull references (default true; false: only the lockfile's names). */
  references?: boolean;
  /** Minimum time between `download` status frames of one pull. Default 100 ms (≤ 10/s). */
  statusIntervalMs?: number;
  /** Lines for the daemon's operator. */
  notice?: (line: string) => void;
  /** The daemon's event stream: each pull's download events are published there (source `download`). */
  events?: Pick<EventStream, "publish">;
  /**
   * Pulls a reference as a download job of the daemon (`DaemonJobs.pull`: listed, watched, cancellable;
   * its download events published with its job id, and given to `onDownload`). Without it the provider
   * pulls itself.
   */
  pullJob?: (
    ref: string,
    call: { signal: AbortSignal; onDownload: (event: DownloadEvent) => void },
  ) => Promise<{ name: string; path: string; cached: boolean; sizeBytes: number }>;
  now?: () => number;
}

/**
 * The provider (see the module doc).
 */
export function createModelProvider(options: ModelProviderOptions): ProvideModel {
  const { store } = options;
  const settings = options.settings ?? {};
  const now = options.now ?? (() => performance.now());
  const notice = options.notice ?? (() => {});
  return (name, call) => provide(name, call).catch((e) => Promise.reject(daemonAccessHint(e)));

  async function provide(name: string, { signal, onStatus, onName }: Parameters<ProvideModel>[1]) {
    const { ref } = await lookUpReference(name, options.lookupRegistry);
    if (ref.kind === "file") return null;
    const { pullReference, pullResolvedPlan } = await import("../../registry/pull_reference.ts");
    // The daemon's own effects: its pull context with this request's signal and status sink (a file's
    // progress arrives once, as download events, and becomes the `download` phase of the load's status),
    // its registry context, its credentials.
    const status = throttleDownloads(onStatus, { intervalMs: options.statusIntervalMs ?? 100, now });
    const phases = downloadPhases(status);
    const events = options.events;
    const emit = events
      ? (event: DownloadEvent) => {
        events.publish("download", event);
        phases(event);
      }
      : phases;
    const effects = {
      registryContext: options.registryContext,
      pullContext: async (urls: string[]) => ({
        ...await options.pullContext(urls),
        signal,
        emitStatus: status,
        emit,
      }),
      settings,
      ...(options.lookupRegistry ? { lookupRegistry: options.lookupRegistry } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    const started = now();
    if (ref.kind === "name") {
      const lock = await options.lockfile?.() ?? null;
      if (lock === null || findEntry(lock, ref.name) === undefined) return null;
      onName?.(ref.name);
      notice(`${ref.name}: not in the store; installing the lockfile's entry`);
      const outcome = await syncLockfile(lock, {
        store,
        names: [ref.name],
        offline: options.offline,
        pull: (plan) => pullResolvedPlan(plan, effects),
      });
      if (outcome.error) throw outcome.error;
      if (outcome.changed) notice(`${ref.name}: the lockfile has unpinned files; \`lode sync\` pins them`);
      const status = outcome.models[0]?.status ?? "ok";
      notice(`${ref.name}: ${status} from the lockfile in ${Math.round(now() - started)} ms`);
      return { name: ref.name, path: await store.modelPathOf(ref.name) };
    }
    if (options.references === false) return null;
    if (options.pullJob) {
      // The model's store name comes with the pull's `started` event, before any byte.
      let named = false;
      const result = await options.pullJob(name, {
        signal,
        onDownload: (event) => {
          if (!named && event.event === "started") {
            named = true;
            onName?.(event.model);
          }
          phases(event);
        },
      });
      const how = result.cached ? "already in the store" : `pulled ${result.sizeBytes} bytes`;
      notice(`${name}: ${how} as "${result.name}" in ${Math.round(now() - started)} ms`);
      return { name: result.name, path: result.path };
    }
    const result = await pullReference(ref, effects, { onPlan: (plan) => onName?.(plan.name) });
    const how = result.cached ? "already in the store" : `pulled ${result.sizeBytes} bytes`;
    notice(`${name}: ${how} as "${result.name}" in ${Math.round(now() - started)} ms`);
    return { name: result.name, path: result.path };
  }
}

/**
 * The daemon's pull of a model-download job: the reference resolved and pulled as a request's reference
 * is (the daemon's pull context, registry context and credentials), the job's signal stopping it and its
 * download events given to the job (which publishes them with its id). The daemon's host policy applies
 * (offline: `OFFLINE` for a model that needs bytes).
 */
export function createDaemonPull(
  options: Pick<
    ModelProviderOptions,
    "pullContext" | "registryContext" | "settings" | "lookupRegistry" | "credentials"
  >,
): PullEffect {
  return async (ref, { name, sha256, signal, onEvent }) => {
    const { pullReference } = await import("../../registry/pull_reference.ts");
    const effects = {
      registryContext: options.registryContext,
      pullContext: async (urls: string[]) => ({ ...await options.pullContext(urls), signal, emit: onEvent }),
      settings: options.settings ?? {},
      ...(options.lookupRegistry ? { lookupRegistry: options.lookupRegistry } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    try {
      const { plan: _plan, ...result } = await pullReference(ref, effects, {
        ...(name !== undefined ? { name } : {}),
        ...(sha256 !== undefined ? { sha256 } : {}),
        signal,
      });
      return { name: result.name, result };
    } catch (e) {
      throw daemonAccessHint(e);
    }
  };
}

/**
 * An `ACCESS_DENIED` of a pull the daemon performs, its hint saying whose token counts: the
 * daemon's (`HF_TOKEN` of the environment `lode serve` started with), never the client's.
 */
function daemonAccessHint(e: unknown): unknown {
  if (!isLodeError(e, "ACCESS_DENIED")) return e;
  // An OCI registry's refusal names the registry; a Hugging Face one does not.
  const what = e.details.registry !== undefined
    ? "the registry's credentials (LODE_OCI_USERNAME and LODE_OCI_PASSWORD, or ~/.docker/config.json)"
    : "HF_TOKEN";
  return new LodeError("ACCESS_DENIED", e.message, {
    details: { ...e.details, pulled_by: "daemon" },
    hint: `${e.hint} The daemon pulls with its own environment, not the client's: set ${what} where ` +
      "`lode serve` starts, then restart it.",
    cause: e,
  });
}

/**
 * The router's {@link StoredName} for `store`: the stored model a reference names when the store's
 * manifests tell it without the network (`storedModelFor` of src/registry/stored_ref.ts: a URL pulled
 * before, an `hf:` reference pinned to a commit), else null. Names and invalid references: null.
 */
export function createStoredName(store: Pick<ModelStore, "list">): StoredName {
  return async (reference) => {
    const { storedModelFor } = await import("../../registry/stored_ref.ts");
    let ref;
    try {
      ref = parseRef(reference);
    } catch {
      return null;
    }
    if (ref.kind !== "url" && ref.kind !== "hf") return null;
    return storedModelFor(ref, (await store.list()).models);
  };
}

/**
 * `onStatus` with `loading_model` `download` frames thinned to one per
 * `intervalMs` (the last one of a file, downloaded = total, always passes),
 * and an event equal to the one just passed dropped.
 */
export function throttleDownloads(
  onStatus: (event: StatusEvent) => void,
  options: { intervalMs: number; now?: () => number },
): (event: StatusEvent) => void {
  const now = options.now ?? (() => performance.now());
  let last = -Infinity;
  let previous = "";
  return (event) => {
    if (event.status === "loading_model" && event.phase === "download") {
      const t = now();
      const final = event.total_bytes !== null && event.downloaded_bytes >= event.total_bytes;
      if (!final && t - last < options.intervalMs) return;
      last = t;
    }
    const text = JSON.stringify(event);
    if (text === previous) return; // the same phase told twice (the pull's checks are layered)
    previous = text;
    onStatus(event);
  };
}

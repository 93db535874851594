/**
 * The one resolve-then-pull task: a reference (`hf:…`, `https://…`, a stored name) is parsed,
 * resolved by the registry its scheme names (one lookup in the run's registry table, the plugin driver:
 * registry_lookup.ts), asking only the hosts that registry needs, given the credentials of this run for
 * each host of the plan (asked of the plan's registry: its `registry.credentials` hook), then
 * downloaded, verified and stored with one manifest written last. `lode pull`, `lode lock add`,
 * `lode run`/`chat`/`embed` for a model the store lacks, `lode sync` and the daemon's model
 * provider all pull through {@link pullReference} or, for a plan they already hold (a lock entry),
 * {@link pullResolvedPlan}.
 *
 * Every effect is passed in ({@link PullEffects}): the registry lookup, the registry's GETs, the pull
 * context (host policy, HTTP clients, connection budget, event sinks, store), the settings and the
 * credentials lookup. Nothing here reads the environment or renders anything.
 *
 * @example
 * ```ts
 * import type { PullEffects } from "./pull_reference.ts";
 * import { pullReference } from "./pull_reference.ts";
 * declare const effects: PullEffects; // a command's or the daemon's
 * const { name, path, cached } = await pullReference("hf:owner/repo:Q4_K_M", effects, { name: "m" });
 * ```
 * @module
 */
import type { PullContext } from "../download/pull_context.ts";
import type { PullResult } from "../download/pull_model.ts";
import {
  type CredentialsLookup,
  hubEndpoint,
  settingsCredentials,
  withRegistryCredentials,
} from "./credentials.ts";
import { withHfHints } from "./huggingface.ts";
import { withOciAccess, withOciHint } from "./oci/oci_registry.ts";
import { planUrls, pullPlan } from "./pull_plan.ts";
import type { ModelRef } from "./reference.ts";
import type { ModelPlan, RegistryContext, RegistrySettings } from "./registry.ts";
import { lookUpReference, type RegistryLookup } from "./registry_lookup.ts";
import { registryFor, resolveModel } from "./resolve_model.ts";

/** What a resolve-then-pull uses, injected by its caller (a command, the daemon, a job). */
export interface PullEffects {
  /** What registries resolve with: GETs limited to the allowed hosts plus `hosts`, the settings, the store. */
  registryContext(hosts: string[]): Promise<RegistryContext>;
  /** The pull context for `urls` (their hosts join the allow-list): store, policy, clients, event sinks. */
  pullContext(urls: string[]): Promise<PullContext>;
  /**
   * The settings of this run (`HF_ENDPOINT`, …): where the registries are. The composition root leaves the
   * secrets out: credentials come from {@link credentials}.
   */
  settings: RegistrySettings;
  /**
   * The credentials of this run for a host of a plan, asked of the plan's registry (its `registry.credentials`
   * hook); default: those of `settings` ({@link settingsCredentials}: `HF_TOKEN` to the Hub's host).
   */
  credentials?: CredentialsLookup;
  /**
   * The registry claiming a reference's scheme (`hf`, `https`, `mirror`, …; without its colon): one lookup
   * in the run's plugin driver, where the built-in registries and the registry plugins are registered
   * alike (default: the built-ins alone, by the forms they parse).
   */
  lookupRegistry?: RegistryLookup;
}

/** Options of {@link pullReference}. */
export interface PullReferenceOptions {
  /** Store name to use instead of the one the registry derives (`--name`). */
  name?: string;
  /** Expected SHA-256 of a single-file model (`--sha256`). */
  sha256?: string;
  /** Further URLs of the same bytes as a URL reference (`--mirror`). */
  mirrors?: string[];
  /** Told the resolved plan before any byte is fetched (its `name` is the model's name in the store). */
  onPlan?(plan: ModelPlan): void;
  /** Stops the resolution and the pull (a partial download is kept); default: the contexts' own. */
  signal?: AbortSignal;
}

/** A pulled reference: the download core's result and the plan it pulled. */
export interface PulledReference extends PullResult {
  plan: ModelPlan;
}

/** Resolves `ref` to a pinned plan through the registry that claims it, asking only the hosts it needs. */
export async function resolveReference(
  ref: string | ModelRef,
  effects: Pick<PullEffects, "registryContext" | "settings" | "lookupRegistry">,
  options: Pick<PullReferenceOptions, "name" | "sha256" | "mirrors" | "signal"> = {},
): Promise<ModelPlan> {
  const { ref: parsed, registries } = await lookUpReference(ref, effects.lookupRegistry);
  const registry = registryFor(parsed, registries);
  registry.prepare?.(parsed);
  const hosts = registry.hostsFor?.(parsed, effects.settings) ?? [];
  const context = await effects.registryContext(hosts);
  const { name, sha256, mirrors, signal } = options;
  return await resolveModel(parsed, signal ? { ...context, signal } : context, {
    name,
    sha256,
    mirrors,
    registries,
  });
}

/**
 * Downloads and verifies `plan` into the store, with this run's credentials and the hosts it
 * needs allowed; the manifest is written last. Emits the pull context's events (`failed` before
 * throwing).
 */
export async function pullResolvedPlan(
  plan: ModelPlan,
  effects:
    & Pick<PullEffects, "pullContext" | "settings">
    & Partial<Pick<PullEffects, "registryContext" | "credentials">>,
  options: Pick<PullReferenceOptions, "signal"> = {},
): Promise<PullResult> {
  // Each host's credentials, asked of the plan's registry; the Hub's hint says whether its host got a token.
  const credentials = effects.credentials ?? settingsCredentials(effects.settings);
  const given = await withRegistryCredentials(plan, credentials);
  const hubToken = plan.source.registry === "huggingface" &&
    given.hosts.has(hubEndpoint(effects.settings).host);
  let access = withOciHint(withHfHints(given.plan, effects.settings, hubToken));
  const context = await effects.pullContext(planUrls(access));
  if (effects.registryContext && access.source.registry === "oci") {
    // A locked OCI plan holds no credentials: this run's, for the registry's host, when blobs are missing.
    access = await withOciAccess(access, context.store, effects.registryContext);
  }
  const pullContext = options.signal ? { ...context, signal: options.signal } : context;
  for (const f of plan.skipped ?? []) {
    context.emit?.({
      event: "file_skipped",
      model: plan.name,
      filename: f.filename,
      role: f.role,
      ...(f.sizeBytes !== undefined ? { size_bytes: f.sizeBytes } : {}),
      reason: f.reason,
      limit_bytes: f.limitBytes,
    });
  }
  try {
    return await pullPlan(access, pullContext);
  } catch (e) {
    // An OCI registry's Bearer token that expired during a long download: a new one (the pinned manifest
    // asked for again with the registry's auth), then the pull once more, from the partial it left.
    if (!effects.registryContext || !tokenExpired(access, e)) throw e;
    const fresh = { ...access, files: access.files.map(({ headers: _h, ...f }) => f) };
    const again = await withOciAccess(fresh, context.store, effects.registryContext);
    return await pullPlan(again, pullContext);
  }
}

/** True when `error` is a 401 of a download of `plan`, an OCI plan sent with a Bearer token. */
function tokenExpired(plan: ModelPlan, error: unknown): boolean {
  if (plan.source.registry !== "oci") return false;
  if (!plan.files.some((f) => f.headers?.authorization?.startsWith("Bearer "))) return false;
  const e = error as { code?: unknown; details?: { status?: unknown } };
  return e?.code === "ACCESS_DENIED" && e.details?.status === 401;
}

/** Resolves `ref` and pulls its plan: {@link resolveReference}, then {@link pullResolvedPlan}. */
export async function pullReference(
  ref: string | ModelRef,
  effects: PullEffects,
  options: PullReferenceOptions = {},
): Promise<PulledReference> {
  const plan = await resolveReference(ref, effects, options);
  options.onPlan?.(plan);
  return { ...await pullResolvedPlan(plan, effects, options), plan };
}

/**
 * The registry contract: a registry turns a parsed reference into a pinned
 * {@link ModelPlan} — descriptors of files (URL, SHA-256, size, headers) —
 * and never downloads or writes anything itself. Only the core downloads and
 * verifies. The https, store-name and Hugging Face registries implement it.
 * It is the interface registry plugins are to implement too, so new members
 * are only ever optional additions.
 *
 * @example
 * ```ts
 * import type { RegistryContext } from "./registry.ts";
 * import { resolveModel } from "./resolve_model.ts";
 * import { parseRef } from "./reference.ts";
 * declare const registryContext: RegistryContext; // a command's: GETs through the host policy, the store
 * const plan = await resolveModel(parseRef("hf:owner/repo:Q4_K_M"), registryContext, { name: "m" });
 * console.log(plan.files.map((f) => f.filename));
 * ```
 * @module
 */
import type { PullFile } from "../download/fetch_blob.ts";
import type { ModelStore } from "../store/model_store.ts";
import type { ModelRef } from "./reference.ts";

/** What a file is to its model; the first `model` (or `shard` 1) is the manifest's primary blob. */
export type FileRole = "model" | "shard" | "mmproj" | (string & Record<never, never>);

/**
 * One file of a plan: exactly what the download core fetches ({@link PullFile}: filename, url and its
 * mirrors — further URLs of the same bytes, tried in order — sha256, which a registry that knows it must
 * give, size, credentials for `url`'s own origin, optional), with its role named.
 */
export interface PlannedFile extends PullFile {
  role: FileRole;
}

/** A file of the source a plan leaves out, and why (its pull emits a `file_skipped` event for it). */
export interface SkippedFile {
  role: FileRole;
  filename: string;
  sizeBytes?: number;
  /** `too_large`: larger than lode keeps for a file of its role (`limitBytes`). */
  reason: "too_large";
  limitBytes: number;
}

/** A pinned, downloadable description of one model. */
export interface ModelPlan {
  /** Name in the store. */
  name: string;
  /** The reference as the user typed it (normalised), for the lockfile. */
  reference: string;
  source: {
    /** Registry id: `https`, `huggingface`, … (`store` for a name already present). */
    registry: string;
    /** `owner/name` for Hugging Face; empty for a plain URL. */
    repo: string;
    /** An immutable revision (a commit sha) when the registry has one; else empty. */
    revision: string;
  };
  /** At least one file; `files[0]` is the primary one. */
  files: PlannedFile[];
  license?: string | null;
  format?: string;
  /** Files of the source this plan leaves out (a text layer over lode's cap), told to the user. */
  skipped?: SkippedFile[];
  /** Hosts this plan's downloads may be redirected to (a registry's CDN); joins the allow-list. */
  allowHosts?: string[];
  /**
   * What to do when a download of this plan is refused (HTTP 401/403): the core reports such a
   * refusal as `ACCESS_DENIED` with this hint (e.g. "set HF_TOKEN, accept the terms on …").
   */
  accessHint?: string;
}

/** Effects a registry may use: all network access goes through `get`. */
export interface RegistryContext {
  /**
   * GET through the host policy, the proxy and the trusted CAs; follows redirects; throws typed
   * errors (`HTTP_NOT_FOUND`, `HTTP_STATUS` with `details.status`, `NETWORK`, `TLS`, `OFFLINE`).
   */
  get(
    url: string | URL,
    init?: { headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<Response>;
  /** The settings registries take from the config. */
  settings: RegistrySettings;
  store: ModelStore;
  signal?: AbortSignal;
}

/** The settings registries take from the config (src/config.ts reads them from the environment). */
export interface RegistrySettings {
  /** `HF_ENDPOINT`: the Hugging Face Hub to use instead of huggingface.co. */
  hfEndpoint?: string;
  /** `HF_TOKEN`: the Hub's access token. */
  hfToken?: string;
  /** `LODE_OCI_USERNAME`: the user name for the OCI registry of the reference being pulled. */
  ociUsername?: string;
  /** `LODE_OCI_PASSWORD`: its password or token. */
  ociPassword?: string;
  /** `DOCKER_CONFIG` (default `~/.docker`): the directory of Docker's `config.json` (registry logins). */
  dockerConfigDir?: string;
  /** Hosts allowed over plain http (`--allow-http`): an OCI registry on one is reached over http. */
  httpHosts?: readonly string[];
}

/** Options of {@link Registry.resolve}. */
export interface ResolveModelOptions {
  /** Store name to use instead of the derived one. */
  name?: string;
  /** Expected SHA-256 of a single-file model (`--sha256`). */
  sha256?: string;
  /** Further URLs of the same bytes as a URL reference (`--mirror`, repeatable), tried in order after it. */
  mirrors?: string[];
}

/** A source of models. */
export interface Registry {
  /** Stable id, recorded in manifests and the lockfile. */
  readonly id: string;
  /** The reference schemes it claims as `SCHEME:REST` (a registry plugin's), without colons. */
  readonly schemes?: readonly string[];
  /** True when this registry resolves `ref`. */
  claims(ref: ModelRef): boolean;
  /**
   * Starts what resolving `ref` will need (a registry plugin's process and its `registry.resolve`, which
   * {@link resolve} then takes), called before the registry context is built so that both happen at once.
   */
  prepare?(ref: ModelRef): void;
  /** Hosts to allow before resolving `ref` (the API host); the plan adds its CDN hosts. */
  hostsFor?(ref: ModelRef, settings: RegistrySettings): string[];
  resolve(ref: ModelRef, ctx: RegistryContext, options?: ResolveModelOptions): Promise<ModelPlan>;
}

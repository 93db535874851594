/**
 * The Hugging Face registry: `hf:OWNER/REPO[:QUANT][@REVISION]`,
 * `hf:OWNER/REPO/PATH.gguf[@REVISION]` (and the `hf.co/…` spellings) resolved
 * through the Hub's API into a pinned plan:
 *
 * 1. model info at the revision (default `main`) → the commit sha, which becomes the plan's
 *    revision and is in every download URL, so a pin never moves;
 * 2. the file tree at that commit → paths, sizes and LFS SHA-256s;
 * 3. the quant's file, or all its split shards (role `shard`), plus an `mmproj` as an optional file
 *    ({@link selectHfFiles});
 * 4. download URLs `{endpoint}/{repo}/resolve/{sha}/{path}`; the Hub redirects them to its CDN
 *    (hosts under `hf.co` / `huggingface.co`, allowed by the plan).
 *
 * Environment: `HF_TOKEN` (sent as `Authorization: Bearer` to the endpoint's host only, never to a
 * CDN, never printed or stored), `HF_ENDPOINT` (a mirror; its CDN hosts are allowed with
 * `--allow-host`).
 *
 * @example
 * ```ts
 * import type { RegistryContext } from "./registry.ts";
 * import { parseRef } from "./reference.ts";
 * declare const ctx: RegistryContext;
 * const plan = await huggingFaceRegistry.resolve(parseRef("hf:Qwen/Qwen3-0.6B-GGUF:Q8_0"), ctx);
 * plan.source.revision; // "c1899de2…" (the commit sha of main)
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { credentialsFor, DEFAULT_HF_ENDPOINT, hubEndpoint, hubToken } from "./credentials.ts";
import { accessDenied, accessHint, HfApi } from "./hf_api.ts";
import { type HfFile, selectHfFiles } from "./hf_files.ts";
import { formatHfRef, type HfRef, nameFromFilename, parseSha256Flag } from "./reference.ts";
import type { ModelPlan, PlannedFile, Registry, RegistrySettings, ResolveModelOptions } from "./registry.ts";

/** CDN hosts of the public Hub, allowed for its redirects. */
export const HF_CDN_HOSTS = ["hf.co", "*.hf.co", "huggingface.co", "*.huggingface.co"];

/** Hosts the Hub's downloads may redirect to: its CDN for the public Hub; none for a mirror (`--allow-host`). */
function hfAllowHosts(settings: RegistrySettings): string[] {
  return hubEndpoint(settings).origin === DEFAULT_HF_ENDPOINT ? [...HF_CDN_HOSTS] : [];
}

/**
 * `plan` with what a download from the Hub needs, from the settings of this run: `HF_TOKEN` on the
 * files on the Hub's own origin, the Hub's CDN hosts, and what to do on a 401/403. The Hub's
 * registry, a re-pull by name and `lode sync` all pull through it; plans of other registries pass
 * unchanged.
 */
export function withHfAccess(plan: ModelPlan, settings: RegistrySettings): ModelPlan {
  if (plan.source.registry !== "huggingface") return plan;
  return withHfHints(
    {
      ...plan,
      files: plan.files.map((f) => {
        const headers = credentialsFor(f.url, settings);
        return headers ? { ...f, headers } : f;
      }),
    },
    settings,
    hubToken(settings) !== undefined,
  );
}

/**
 * `plan` with the Hub's CDN hosts allowed and what to do on a 401/403 (`hasToken`: whether this run sends
 * the Hub a token), its credentials untouched; plans of other registries pass unchanged.
 */
export function withHfHints(plan: ModelPlan, settings: RegistrySettings, hasToken: boolean): ModelPlan {
  if (plan.source.registry !== "huggingface") return plan;
  const page = `${hubEndpoint(settings).href.replace(/\/$/, "")}/${plan.source.repo}`;
  return {
    ...plan,
    allowHosts: [...new Set([...plan.allowHosts ?? [], ...hfAllowHosts(settings)])],
    accessHint: accessHint({ repo: plan.source.repo, page, hasToken }),
  };
}

/**
 * The store name the Hub's model file at `path` gets (its file name, without a shard's `-00001-of-00003`).
 *
 * @example
 * ```ts
 * hfStoreName("q8/Qwen3-0.6B-Q8_0-00001-of-00002.gguf"); // "Qwen3-0.6B-Q8_0"
 * ```
 */
export function hfStoreName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1).replace(/-\d{5}-of-\d{5}(?=\.gguf$)/i, "");
  return nameFromFilename(base);
}

function checkSha256Flag(files: PlannedFile[], options: ResolveModelOptions | undefined): PlannedFile[] {
  const flag = parseSha256Flag(options?.sha256);
  if (flag === undefined) return files;
  const required = files.filter((f) => !f.optional);
  if (required.length !== 1) {
    throw new LodeError("USAGE", "--sha256 names one file; this model has several (the Hub pins each one)");
  }
  const [file] = required as [PlannedFile];
  if (file.sha256 && file.sha256 !== flag) {
    throw new LodeError("USAGE", `--sha256 disagrees with the Hub's sha256 of ${file.filename}`, {
      details: { flag, hub: file.sha256 },
    });
  }
  return files.map((f) => (f === file ? { ...f, sha256: flag } : f));
}

/** `hf:` references. */
export const huggingFaceRegistry: Registry = {
  id: "huggingface",
  claims: (ref) => ref.kind === "hf",
  hostsFor: (ref, settings) => (ref.kind === "hf" ? [hubEndpoint(settings).hostname] : []),
  async resolve(ref, ctx, options): Promise<ModelPlan> {
    if (ref.kind !== "hf") throw new LodeError("INTERNAL", "huggingFaceRegistry given a non-hf reference");
    const hub = new HfApi(ctx, { endpoint: hubEndpoint(ctx.settings).href, token: hubToken(ctx.settings) });
    const revision = ref.revision ?? "main";
    const info = await hub.modelInfo(ref.repo, revision);
    const page = hub.pageUrl(ref.repo);
    if (info.disabled) {
      throw new LodeError("ACCESS_DENIED", `${ref.repo} is disabled on the Hub`, {
        details: { repo: ref.repo, page },
        hint: `See ${page}; the model cannot be downloaded.`,
      });
    }
    if (info.gated && !hub.hasToken) {
      throw accessDenied({ repo: ref.repo, status: 401, page, hasToken: false, hubCode: "GatedRepo" });
    }
    const listing = await hub.listFiles(ref.repo, info.sha);
    const picked = selectHfFiles(listing, { ...pick(ref), repo: ref.repo, revision });
    const shards = picked.model.length > 1;
    const planned = (file: HfFile, role: string, optional = false): PlannedFile => ({
      role,
      filename: file.path,
      url: hub.resolveUrl(ref.repo, info.sha, file.path),
      ...(file.sha256 ? { sha256: file.sha256 } : {}),
      sizeBytes: file.size,
      ...(optional ? { optional } : {}),
    });
    const files = [
      ...picked.model.map((f) => planned(f, shards ? "shard" : "model")),
      ...(picked.mmproj ? [planned(picked.mmproj, "mmproj", true)] : []),
    ];
    const license = info.cardData?.license;
    return withHfAccess({
      name: options?.name ?? hfStoreName(picked.model[0]!.path),
      reference: formatHfRef(ref),
      source: { registry: "huggingface", repo: ref.repo, revision: info.sha },
      files: checkSha256Flag(files, options),
      license: Array.isArray(license) ? license[0] ?? null : license ?? null,
      format: "gguf",
    }, ctx.settings);
  },
};

function pick(ref: HfRef): { quant?: string; path?: string } {
  return ref.path ? { path: ref.path } : ref.quant ? { quant: ref.quant } : {};
}

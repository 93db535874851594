/**
 * The built-in registries for what the foundation already accepted: an https
 * URL (optionally pinned with `#sha256=`) and a name already in the store
 * (pulled again from the URL its manifest records).
 *
 * @example
 * ```ts
 * import type { RegistryContext } from "./registry.ts";
 * import { parseRef } from "./reference.ts";
 * declare const ctx: RegistryContext;
 * const plan = await urlRegistry.resolve(parseRef("https://h.example/m.gguf"), ctx, { name: "m" });
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { blobHex } from "../store/manifest_blobs.ts";
import { parseBlobRef } from "../store/layout.ts";
import { withHfAccess } from "./huggingface.ts";
import { nameFromFilename, parseSha256Flag } from "./reference.ts";
import type { ModelPlan, PlannedFile, Registry } from "./registry.ts";

/** `https://…[#sha256=HEX]`. */
export const urlRegistry: Registry = {
  id: "https",
  claims: (ref) => ref.kind === "url",
  hostsFor: (ref) => (ref.kind === "url" ? [ref.url.hostname] : []),
  resolve(ref, _ctx, options): Promise<ModelPlan> {
    if (ref.kind !== "url") throw new LodeError("INTERNAL", "urlRegistry given a non-URL reference");
    const flag = parseSha256Flag(options?.sha256);
    if (flag && ref.sha256 && flag !== ref.sha256) {
      throw new LodeError("USAGE", "--sha256 and the #sha256= fragment disagree", {
        details: { flag, fragment: ref.sha256 },
      });
    }
    const sha256 = flag ?? ref.sha256;
    const mirrors = parseMirrors(options?.mirrors ?? [], sha256);
    return Promise.resolve({
      name: options?.name ?? nameFromFilename(ref.filename),
      reference: sha256 ? `${ref.url.href}#sha256=${sha256}` : ref.url.href,
      source: { registry: ref.url.host, repo: "", revision: "" },
      files: [{
        role: "model",
        filename: ref.filename,
        url: ref.url.href,
        sha256,
        ...(mirrors.length ? { mirrors } : {}),
      }],
    });
  },
};

/**
 * The `--mirror` URLs of a URL reference: http(s), without credentials or a fragment. They serve the
 * same bytes only if the SHA-256 says so, so mirrors need the reference pinned (`USAGE` otherwise).
 */
export function parseMirrors(mirrors: readonly string[], sha256: string | undefined): string[] {
  if (mirrors.length === 0) return [];
  if (!sha256) {
    throw new LodeError(
      "USAGE",
      "--mirror needs the bytes pinned: add #sha256=HEX to the URL (or --sha256)",
      {
        hint: "Mirrors are other URLs of the same bytes; only the SHA-256 can say they are.",
      },
    );
  }
  return mirrors.map((text) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new LodeError("USAGE", `--mirror is not a URL: "${text}"`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new LodeError("USAGE", `--mirror must be an https URL, got "${text}"`);
    }
    if (url.username || url.password) {
      throw new LodeError(
        "USAGE",
        "credentials in a --mirror URL would be stored in the lockfile and events",
      );
    }
    url.hash = "";
    return url.href;
  });
}

/**
 * A name in the store, pulled again from the sources its manifest records (every file of a
 * multi-file model; a Hugging Face model gets `HF_TOKEN` and the rest through {@link withHfAccess}).
 */
export const storeRegistry: Registry = {
  id: "store",
  claims: (ref) => ref.kind === "name",
  async resolve(ref, ctx, options): Promise<ModelPlan> {
    if (ref.kind !== "name") throw new LodeError("INTERNAL", "storeRegistry given a non-name reference");
    const manifest = await ctx.store.getManifest(ref.name).catch((e) => {
      throw schemeHint(e, ref.name);
    });
    const flag = parseSha256Flag(options?.sha256);
    const pinned = blobHex(manifest);
    if (flag && flag !== pinned) {
      throw new LodeError("USAGE", `--sha256 disagrees with the stored manifest of "${ref.name}"`);
    }
    const url = manifest.source.url;
    if (!url) {
      throw new LodeError("MODEL_NOT_FOUND", `"${ref.name}" has no source URL to pull it from again`, {
        details: { name: ref.name },
        hint: "Import it again with `lode import PATH --name NAME`.",
      });
    }
    const files: PlannedFile[] = manifest.files?.length
      ? manifest.files.map((f, i) => ({
        role: f.role,
        filename: f.filename,
        url: f.url ?? (i === 0 ? url : ""),
        sha256: parseBlobRef(f.blob) ?? undefined,
        sizeBytes: f.size_bytes,
        ...(f.role === "mmproj" ? { optional: true } : {}),
      }))
      : [{
        role: "model",
        filename: manifest.source.filename,
        url,
        sha256: pinned,
        sizeBytes: manifest.size_bytes,
      }];
    const missing = files.find((f) => !f.url);
    if (missing) {
      throw new LodeError("MODEL_NOT_FOUND", `"${ref.name}" records no URL for ${missing.filename}`, {
        details: { name: ref.name, filename: missing.filename },
        hint: "Pull it again from its original reference (lode pull hf:…).",
      });
    }
    return withHfAccess({
      name: ref.name,
      reference: ref.name,
      source: {
        registry: manifest.source.registry,
        repo: manifest.source.repo,
        revision: manifest.source.revision,
      },
      files,
      license: manifest.license,
      format: manifest.format,
    }, ctx.settings);
  },
};

/** A missing name spelled `SCHEME:REST` was most likely meant for a registry plugin: say so. */
function schemeHint(e: unknown, name: string): unknown {
  const scheme = /^([a-z][a-z0-9+.-]*):./.exec(name)?.[1];
  if (!(e instanceof LodeError) || e.code !== "MODEL_NOT_FOUND" || scheme === undefined) return e;
  return new LodeError(
    "MODEL_NOT_FOUND",
    `${e.message} (and no registry plugin claims the scheme ${scheme}:)`,
    {
      details: { ...e.details, scheme },
      hint: `To resolve ${scheme}: references, install a registry plugin with \`lode plugin add DIR\` ` +
        "or load one for this command with --plugin DIR.",
      cause: e,
    },
  );
}

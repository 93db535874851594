/**
 * Resolves a parsed reference to a pinned {@link PullPlan}: registries return
 * descriptors, only the core downloads and verifies.
 *
 * @example
 * ```ts
 * const plan = await resolvePlan(parseRef(url), { store, name: "stories" });
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { PullPlan } from "../download/mod.ts";
import { blobHex, isSha256Hex, type ModelStore } from "../store/mod.ts";
import { type ModelRef, nameFromFilename } from "./reference.ts";

/** Options of {@link resolvePlan}. */
export interface ResolveOptions {
  store: ModelStore;
  /** Store name to use instead of the derived one. */
  name?: string;
  /** Expected SHA-256 from `--sha256` (must agree with a `#sha256=` fragment). */
  sha256?: string;
}

/** Turns a URL reference, or a stored name with a known source URL, into a pull plan. */
export async function resolvePlan(ref: ModelRef, options: ResolveOptions): Promise<PullPlan> {
  const flagSha = options.sha256?.toLowerCase();
  if (flagSha !== undefined && !isSha256Hex(flagSha)) {
    throw new LodeError("USAGE", `--sha256 must be 64 hex digits, got "${options.sha256}"`);
  }
  if (ref.kind === "url") {
    if (flagSha && ref.sha256 && flagSha !== ref.sha256) {
      throw new LodeError("USAGE", "--sha256 and the #sha256= fragment disagree", {
        details: { flag: flagSha, fragment: ref.sha256 },
      });
    }
    return {
      name: options.name ?? nameFromFilename(ref.filename),
      url: ref.url.href,
      sha256: flagSha ?? ref.sha256,
      source: { registry: ref.url.host, repo: "", revision: "", filename: ref.filename, url: ref.url.href },
    };
  }
  if (ref.kind === "name") {
    const manifest = await options.store.getManifest(ref.name);
    const url = manifest.source.url;
    if (!url) {
      throw new LodeError("MODEL_NOT_FOUND", `"${ref.name}" has no source URL to pull it from again`, {
        details: { name: ref.name },
        hint: "Import it again with `lode import PATH --name NAME`.",
      });
    }
    const pinned = blobHex(manifest);
    if (flagSha && flagSha !== pinned) {
      throw new LodeError("USAGE", `--sha256 disagrees with the stored manifest of "${ref.name}"`);
    }
    return {
      name: ref.name,
      url,
      sha256: pinned,
      sizeBytes: manifest.size_bytes,
      source: manifest.source,
      license: manifest.license,
      format: manifest.format,
    };
  }
  throw new LodeError("USAGE", `a local file is imported, not pulled: lode import ${ref.path} --name NAME`);
}

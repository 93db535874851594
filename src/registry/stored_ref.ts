/**
 * Which stored model a reference names, told from the store's manifests
 * alone — no request to any host. `lode serve` uses it so that a reference
 * the store already holds loads without the network and shares the runner
 * of the name it is stored under.
 *
 * - a **name**: itself, when stored;
 * - an **https URL**: a model that holds the pinned digest (`#sha256=`), or —
 *   unpinned — was pulled from that very URL (what `lode pull` itself checks
 *   before downloading nothing);
 * - an **`hf:` reference pinned to a commit** (`@` 40 hex digits): the
 *   manifest with the Hugging Face source of that repo and commit whose file
 *   is the one asked (`/PATH.gguf`, or `:QUANT`, or without either the
 *   default quant, Q4_K_M);
 * - with several such models (pulled again under `--name`), the one under the
 *   name the registry gives, else the first name in order;
 * - an **`oci://` reference pinned to a digest** (`@sha256:…`): the manifest with the OCI source of
 *   that registry, repository and digest;
 * - anything else (an `hf:` branch or tag, which only the Hub can resolve;
 *   a `file:` path): null.
 *
 * @example
 * ```ts
 * import { storedModelFor } from "./stored_ref.ts";
 * import { parseRef } from "./reference.ts";
 * import { ModelStore } from "../store/model_store.ts";
 * const { models } = await (await ModelStore.open("/srv/models")).list();
 * storedModelFor(parseRef("hf:o/r:Q8_0@5d2e…40 hex"), models); // "r-Q8_0", or null
 * ```
 * @module
 */
import type { Manifest } from "../store/manifest.ts";
import { DEFAULT_QUANT, quantOf } from "./hf_files.ts";
import { hfStoreName } from "./huggingface.ts";
import { ociStoreName } from "./oci/oci_plan.ts";
import { type HfRef, type ModelRef, nameFromFilename } from "./reference.ts";

/**
 * True when `revision` is a full commit sha (40 hex digits), which names one content for ever.
 *
 * @example
 * ```ts
 * isPinnedCommit("main"); // false
 * isPinnedCommit("0123456789abcdef0123456789abcdef01234567"); // true
 * ```
 */
export function isPinnedCommit(revision: string | undefined): boolean {
  return revision !== undefined && /^[0-9a-f]{40}$/i.test(revision);
}

/**
 * The name of the stored model `ref` names (see the module doc), or null.
 *
 * @example
 * ```ts
 * import { parseRef } from "./reference.ts";
 * import type { Manifest } from "../store/manifest.ts";
 * declare const manifests: Manifest[]; // the store's
 * const sha256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
 * storedModelFor(parseRef(`https://h.example/m/stories260K.gguf#sha256=${sha256}`), manifests); // "stories260K"
 * ```
 */
export function storedModelFor(ref: ModelRef, manifests: readonly Manifest[]): string | null {
  switch (ref.kind) {
    case "name":
      return manifests.some((m) => m.name === ref.name) ? ref.name : null;
    case "url": {
      const held = manifests.filter((m) =>
        ref.sha256 ? m.blob === `sha256:${ref.sha256}` : m.source.url === ref.url.href
      );
      return preferred(held, (m) => m.name === nameFromFilename(ref.filename));
    }
    case "hf":
      return storedHf(ref, manifests);
    case "oci": {
      if (!ref.digest) return null; // a tag may move: only the registry knows what it names now
      const repo = `${ref.host}/${ref.repository}`;
      const held = manifests.filter(({ source }) =>
        source.registry === "oci" && source.repo === repo && source.revision === ref.digest
      );
      return preferred(held, (m) => m.name === ociStoreName(ref));
    }
    case "file":
    case "plugin": // a plugin's plan may change: it is always resolved
      return null;
  }
}

function storedHf(ref: HfRef, manifests: readonly Manifest[]): string | null {
  if (!isPinnedCommit(ref.revision)) return null;
  const commit = ref.revision!.toLowerCase();
  const repo = ref.repo.toLowerCase();
  const held = manifests.filter(({ source }) =>
    source.registry === "huggingface" && source.repo.toLowerCase() === repo &&
    source.revision.toLowerCase() === commit &&
    (ref.path ? source.filename === ref.path : quantOf(source.filename) === (ref.quant ?? DEFAULT_QUANT))
  );
  return preferred(held, (m) => m.name === hfStoreName(m.source.filename));
}

/** Of the models that hold what was asked: one stored under the registry's name (`usual`), else the first name. */
function preferred(held: readonly Manifest[], usual: (m: Manifest) => boolean): string | null {
  return held.find(usual)?.name ?? held.map((m) => m.name).sort()[0] ?? null;
}

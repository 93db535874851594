/**
 * From a fetched OCI manifest to a {@link ModelPlan}: the artifact's shape is told from its
 * `artifactType`, config type and layer types ({@link LAYER_TYPES}); each layer becomes a planned file
 * whose URL is its blob (`https://HOST/v2/REPO/blobs/sha256:…`) and whose SHA-256 is its digest, so the
 * download core verifies it while streaming. Several model layers are shards (`role: shard`, in the
 * manifest's order); a projector is `mmproj` (optional). The license and chat template layers
 * ({@link KEPT_TEXT_ROLES}) are pulled too, as optional text files of the model, each verified by its
 * digest; one larger than {@link TEXT_LAYER_CAP} is left out of the plan and named in its `skipped`
 * list. Other text layers (README, params, …) are known but not pulled.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { nameFromFilename } from "../reference.ts";
import type { ModelPlan, PlannedFile, SkippedFile } from "../registry.ts";
import {
  DOCKER_AI_CONFIGS,
  FILEPATH_ANNOTATION,
  JINJA_NAME,
  KEPT_TEXT_ROLES,
  LAYER_TYPES,
  type LayerKind,
  LICENSE_NAME,
  MODELPACK_ARTIFACT,
  MODELPACK_CONFIG,
  MODELPACK_PROJECTOR_NAME,
  type OciShape,
  TEXT_LAYER_CAP,
  TITLE_ANNOTATION,
  unsupported,
} from "./media_types.ts";
import type { OciDescriptor, OciManifest } from "./oci_manifest.ts";
import { registryUrl } from "./oci_manifest.ts";
import { formatOciRef, type OciRef } from "./oci_ref.ts";

/** The roles of the layers a plan pulls: the GGUF files a model loads, its license and chat template. */
const PULLED_ROLES = new Set(["model", "mmproj", ...KEPT_TEXT_ROLES]);

/** The shape of `manifest`, or `OCI_UNSUPPORTED` listing the accepted ones. */
export function shapeOf(host: string, manifest: OciManifest): OciShape {
  const config = manifest.config?.mediaType ?? "";
  const layers = manifest.layers ?? [];
  if (manifest.artifactType === MODELPACK_ARTIFACT || config === MODELPACK_CONFIG) return "modelpack";
  if ((DOCKER_AI_CONFIGS as readonly string[]).includes(config)) return "docker";
  if (layers.some((l) => l.mediaType.startsWith("application/vnd.ollama.image."))) return "ollama";
  const what = manifest.artifactType ?? (config || manifest.mediaType || "a manifest without a type");
  throw unsupported(host, `the artifact type ${what}`);
}

/** A layer's file name: its annotation (a relative path, checked), else the kind's default. */
function fileName(host: string, layer: OciDescriptor, fallback: string): string {
  const named = layer.annotations?.[FILEPATH_ANNOTATION] ?? layer.annotations?.[TITLE_ANNOTATION];
  if (named === undefined) return fallback;
  const parts = named.split("/");
  if (
    !named || named.startsWith("/") || parts.some((p) => !p || p === "." || p === ".." || p.includes("\\"))
  ) {
    throw new LodeError(
      "MANIFEST_INVALID",
      `${host}: a layer's file path "${named}" is not a relative path`,
      {
        details: { registry: host, digest: layer.digest, filepath: named },
        hint: "The artifact's annotation names a file outside its folder; ask its publisher to fix it.",
      },
    );
  }
  return named;
}

function checkDigest(host: string, layer: OciDescriptor): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(layer.digest ?? "");
  if (!m) {
    throw unsupported(host, `a layer digest "${layer.digest}" (lode verifies sha256 digests)`);
  }
  return m[1]!;
}

/** The store name of `ref`: the repository's last part, with the tag unless it is `latest`. */
export function ociStoreName(ref: OciRef): string {
  const base = ref.repository.slice(ref.repository.lastIndexOf("/") + 1);
  return nameFromFilename(ref.tag && ref.tag !== "latest" ? `${base}-${ref.tag}` : base);
}

/**
 * What `layer` is (its kind by type; null for an unknown type). ModelPack has no projector, license or
 * template type of its own, so its layers are told by their file's name: a weight layer named as a
 * projector (`mmproj` in its name) is one, a doc layer named `LICENSE…` is the license, a weight-config
 * layer named `….jinja` is the chat template.
 */
function layerKind(shape: OciShape, layer: OciDescriptor): LayerKind | null {
  const kind = LAYER_TYPES[shape][layer.mediaType];
  if (!kind) return null;
  if (shape !== "modelpack") return kind;
  const named = layer.annotations?.[FILEPATH_ANNOTATION] ?? layer.annotations?.[TITLE_ANNOTATION] ?? "";
  const base = named.slice(named.lastIndexOf("/") + 1);
  if (kind.role === "model" && MODELPACK_PROJECTOR_NAME.test(base)) {
    return { role: "mmproj", defaultName: "mmproj.gguf", optional: true };
  }
  if (kind.role === "doc" && LICENSE_NAME.test(base)) return { ...kind, role: "license" };
  if (kind.role === "weight_config" && JINJA_NAME.test(base)) return { ...kind, role: "chat_template" };
  return kind;
}

/** True when `layer` is a text layer larger than the pull keeps ({@link TEXT_LAYER_CAP}). */
function tooLarge(kind: LayerKind, layer: OciDescriptor): boolean {
  return KEPT_TEXT_ROLES.has(kind.role) &&
    !(Number.isSafeInteger(layer.size) && layer.size <= TEXT_LAYER_CAP);
}

/** The plan of `manifest` (digest `pin`) fetched for `ref`. */
export function planFromManifest(
  ref: OciRef,
  pin: string,
  manifest: OciManifest,
  options: { name?: string; http?: boolean } = {},
): ModelPlan {
  const shape = shapeOf(ref.host, manifest);
  const layers = manifest.layers ?? [];
  const models = layers.filter((l) => layerKind(shape, l)?.role === "model");
  if (models.length === 0) throw unsupported(ref.host, `a ${shape} artifact without a model layer`);
  const shards = models.length > 1;
  const seen = new Set<string>();
  for (const layer of layers) {
    if (!layerKind(shape, layer)) throw unsupported(ref.host, `the layer type ${layer.mediaType}`);
  }
  const kept = layers.filter((l) => PULLED_ROLES.has(layerKind(shape, l)!.role));
  const pulled = kept.filter((l) => !tooLarge(layerKind(shape, l)!, l));
  const skipped: SkippedFile[] = kept.filter((l) => tooLarge(layerKind(shape, l)!, l)).map((l) => {
    const { role, defaultName } = layerKind(shape, l)!;
    return {
      role,
      filename: fileName(ref.host, l, defaultName),
      ...(Number.isSafeInteger(l.size) && l.size >= 0 ? { sizeBytes: l.size } : {}),
      reason: "too_large",
      limitBytes: TEXT_LAYER_CAP,
    };
  });
  const files: PlannedFile[] = pulled.map((layer, i) => {
    const kind = layerKind(shape, layer)!;
    const sha256 = checkDigest(ref.host, layer);
    let fallback = kind.defaultName;
    if (kind.role === "model" && shards) {
      const n = models.indexOf(layer) + 1;
      fallback = `model-${String(n).padStart(5, "0")}-of-${String(models.length).padStart(5, "0")}.gguf`;
    }
    let filename = fileName(ref.host, layer, fallback);
    if (seen.has(filename)) filename = `${i}-${filename}`;
    seen.add(filename);
    return {
      role: kind.role === "model" && shards ? "shard" : kind.role,
      filename,
      url: registryUrl(ref, `blobs/${layer.digest}`, options.http).href,
      sha256,
      ...(Number.isSafeInteger(layer.size) && layer.size >= 0 ? { sizeBytes: layer.size } : {}),
      ...(kind.optional ? { optional: true } : {}),
    };
  });
  // The model's files first, in manifest order (files[0] is the primary one), then the rest.
  const primary = files.filter((f) => f.role === "model" || f.role === "shard");
  const rest = files.filter((f) => f.role !== "model" && f.role !== "shard");
  return {
    name: options.name ?? ociStoreName(ref),
    reference: formatOciRef({ ...ref, digest: ref.digest }),
    source: { registry: "oci", repo: `${ref.host}/${ref.repository}`, revision: pin },
    files: [...primary, ...rest],
    ...(skipped.length > 0 ? { skipped } : {}),
    format: shape !== "modelpack"
      ? "gguf"
      : /\.([A-Za-z0-9]+)$/.exec(primary[0]!.filename)?.[1]?.toLowerCase() ?? "gguf",
  };
}

/**
 * The CNCF ModelPack artifact of a stored model: its config (`format: gguf`, the architecture,
 * parameter size and quantization from the GGUF header) and its manifest (`artifactType`
 * `application/vnd.cncf.model.manifest.v1+json`), one uncompressed weight layer per file of the model,
 * named by the `org.cncf.model.filepath` annotation. ModelPack has no projector, license or template
 * type: a projector is a weight layer whose file name holds `mmproj`, the license a doc layer
 * (`application/vnd.cncf.model.doc.v1.raw`) named `LICENSE…`, the chat template a weight-config layer
 * (`application/vnd.cncf.model.weight.config.v1.raw`) named `….jinja` ({@link layerFileName}), which is
 * how lode's pull tells them apart. A layer's digest is the file's SHA-256 (its key in the store).
 * Nothing here holds a time or a credential: the same model gives the same bytes.
 *
 * @example
 * ```ts
 * import { modelPackConfig, modelPackManifest } from "./modelpack_build.ts";
 * const config = modelPackConfig("stories", { architecture: "llama", parameters: 292800, quantization: "F32" }, []);
 * const manifest = modelPackManifest({ digest: "sha256:…", size: config.length }, []);
 * manifest.artifactType; // "application/vnd.cncf.model.manifest.v1+json"
 * ```
 * @module
 */
import {
  FILEPATH_ANNOTATION,
  JINJA_NAME,
  LICENSE_NAME,
  MANIFEST_TYPES,
  MODELPACK_ARTIFACT,
  MODELPACK_CONFIG,
  MODELPACK_DOC,
  MODELPACK_WEIGHT_CONFIG,
} from "./media_types.ts";

/** ModelPack's uncompressed weight layer type. */
export const MODELPACK_WEIGHT = "application/vnd.cncf.model.weight.v1.raw";

/** One file of the model as a layer. */
export interface PushLayer {
  /** `sha256:HEX`. */
  digest: string;
  size: number;
  /** The file's name (the annotation): its base name in the store's manifest. */
  filename: string;
  role: string;
}

/**
 * The file name a layer is annotated with: the stored file's base name; a projector's holds `mmproj`
 * (prefixed `mmproj-` when it does not), a license's starts `LICENSE` (prefixed `LICENSE-`), a chat
 * template's ends `.jinja` (suffixed), so a ModelPack reader that goes by names finds them.
 */
export function layerFileName(filename: string, role: string): string {
  if (role === "mmproj" && !/mmproj/i.test(filename)) return `mmproj-${filename}`;
  if (role === "license" && !LICENSE_NAME.test(filename)) return `LICENSE-${filename}`;
  if (role === "chat_template" && !JINJA_NAME.test(filename)) return `${filename}.jinja`;
  return filename;
}

/** The ModelPack layer type of a file of `role`: weights (model, shards, projector), doc, weight config. */
export function modelPackLayerType(role: string): string {
  if (role === "license") return MODELPACK_DOC;
  if (role === "chat_template") return MODELPACK_WEIGHT_CONFIG;
  return MODELPACK_WEIGHT;
}

/** What the config says of the model (from {@link GgufSummary} fields). */
export interface ModelFacts {
  architecture: string | null;
  parameters: number;
  quantization: string;
}

/** `292800` → `"292.8k"`, `8030261248` → `"8.03b"` (ModelPack's `paramSize`). */
export function paramSize(parameters: number): string {
  const units: [number, string][] = [[1e12, "t"], [1e9, "b"], [1e6, "m"], [1e3, "k"]];
  for (const [scale, unit] of units) {
    if (parameters >= scale) return `${Number((parameters / scale).toFixed(2))}${unit}`;
  }
  return String(parameters);
}

/** The config blob's bytes. */
export function modelPackConfig(name: string, facts: ModelFacts, layers: PushLayer[]): Uint8Array {
  const config = {
    descriptor: { name },
    modelfs: { type: "layers", diffIds: layers.map((l) => l.digest) },
    config: {
      ...(facts.architecture ? { architecture: facts.architecture } : {}),
      format: "gguf",
      paramSize: paramSize(facts.parameters),
      quantization: facts.quantization,
    },
  };
  return new TextEncoder().encode(JSON.stringify(config));
}

/** An OCI descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** A ModelPack manifest as lode writes it. */
export interface ModelPackManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** The manifest of the config blob `config` and the model's `layers`, in the model's file order. */
export function modelPackManifest(
  config: { digest: string; size: number },
  layers: PushLayer[],
): ModelPackManifest {
  return {
    schemaVersion: 2,
    mediaType: MANIFEST_TYPES[0],
    artifactType: MODELPACK_ARTIFACT,
    config: { mediaType: MODELPACK_CONFIG, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({
      mediaType: modelPackLayerType(l.role),
      digest: l.digest,
      size: l.size,
      annotations: { [FILEPATH_ANNOTATION]: layerFileName(l.filename, l.role) },
    })),
  };
}

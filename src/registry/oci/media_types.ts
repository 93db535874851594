/**
 * The OCI media types lode reads, and what each layer is to a model. Three artifact shapes are
 * accepted, each as a manifest or behind an image index that points at one:
 *
 * - **CNCF ModelPack**: `artifactType` (or config) `application/vnd.cncf.model.…`, layers
 *   `application/vnd.cncf.model.{weight,weight.config,doc,code,dataset}.v1.raw` named by their
 *   `org.cncf.model.filepath` annotation;
 * - **Docker Model Runner**: config `application/vnd.docker.ai.model.config.v0.1+json` or `v0.2`, layers
 *   `application/vnd.docker.ai.gguf.v3` (the model, several for shards), `application/vnd.docker.ai.mmproj`
 *   (or `….gguf.v3.mmproj`), license and chat template;
 * - **Ollama**: layers `application/vnd.ollama.image.model`, `….projector`, and its text layers
 *   (license, template, system, params).
 *
 * Packed (`.tar`, `+gzip`, `+zstd`) ModelPack layers are refused: lode stores files as they are, so a
 * layer's digest is the SHA-256 of the file it becomes.
 *
 * Besides the GGUF files, a pull keeps the model's license and chat template as text files of the model
 * ({@link KEPT_TEXT_ROLES}, at most {@link TEXT_LAYER_CAP} bytes each): Docker's license and Jinja
 * template layers, ModelPack's doc layer named `LICENSE…`/`LICENCE…`/`COPYING…` and weight-config layer
 * named `….jinja`, Ollama's license and template (Go template syntax: role `ollama_template`).
 * @module
 */
import { LodeError } from "../../errors.ts";
import { TEXT_FILE_ROLES } from "../../store/manifest.ts";

/** The manifest media types lode asks for (all of them in `Accept`: some registries answer 404 otherwise). */
export const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

/** The index media types lode follows to one manifest. */
export const INDEX_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
] as const;

/** The `Accept` header of a manifest GET. */
export const MANIFEST_ACCEPT = [...MANIFEST_TYPES, ...INDEX_TYPES].join(", ");

/** The ModelPack manifest's `artifactType`. */
export const MODELPACK_ARTIFACT = "application/vnd.cncf.model.manifest.v1+json";
/** The ModelPack config's media type. */
export const MODELPACK_CONFIG = "application/vnd.cncf.model.config.v1+json";
/** Docker Model Runner's config media types. */
export const DOCKER_AI_CONFIGS = [
  "application/vnd.docker.ai.model.config.v0.1+json",
  "application/vnd.docker.ai.model.config.v0.2+json",
] as const;
/** The annotation naming a ModelPack layer's file. */
export const FILEPATH_ANNOTATION = "org.cncf.model.filepath";
/** The OCI annotation naming a layer's file (used when the ModelPack one is absent). */
export const TITLE_ANNOTATION = "org.opencontainers.image.title";

/** Docker Model Runner's license layer type (plain text). */
export const DOCKER_LICENSE = "application/vnd.docker.ai.license";
/** Docker Model Runner's chat template layer type (a Jinja template). */
export const DOCKER_CHAT_TEMPLATE = "application/vnd.docker.ai.chat.template.jinja";
/** ModelPack's uncompressed documentation layer type (`README.md`, `LICENSE`, …). */
export const MODELPACK_DOC = "application/vnd.cncf.model.doc.v1.raw";
/** ModelPack's uncompressed weight-config layer type (`config.json`, `chat_template.jinja`, …). */
export const MODELPACK_WEIGHT_CONFIG = "application/vnd.cncf.model.weight.config.v1.raw";

/**
 * The roles of the text layers a pull stores beside the model's GGUF files: `license`, `chat_template`
 * (Jinja) and `ollama_template` (Ollama's Go template, which neither push format has a type for).
 */
export const KEPT_TEXT_ROLES: ReadonlySet<string> = TEXT_FILE_ROLES;

/** The largest text layer a pull stores (1 MiB); a larger one is left out with a `file_skipped` event. */
export const TEXT_LAYER_CAP = 1024 * 1024;

/** A file name that is a license's: `LICENSE`, `LICENCE.md`, `COPYING`, … (any case). */
export const LICENSE_NAME = /^(licen[cs]e|copying)([._-].*)?$/i;
/** A file name that is a Jinja template's. */
export const JINJA_NAME = /\.jinja2?$/i;

/** The artifact shapes lode pulls. */
export type OciShape = "modelpack" | "docker" | "ollama";

/** What a layer of a known type becomes: its role in the plan, a default file name, optional or not. */
export interface LayerKind {
  /** `model` (weights), `mmproj`, `license`, `chat_template`, `doc`, … */
  role: string;
  /** The file name when no annotation names it. */
  defaultName: string;
  /** A file the model loads without (text layers): its failure does not fail the pull. */
  optional: boolean;
}

const kind = (role: string, defaultName: string, optional = true): LayerKind => ({
  role,
  defaultName,
  optional,
});

/** Layer media types by shape. */
export const LAYER_TYPES: Record<OciShape, Record<string, LayerKind>> = {
  modelpack: {
    "application/vnd.cncf.model.weight.v1.raw": kind("model", "model.gguf", false),
    [MODELPACK_WEIGHT_CONFIG]: kind("weight_config", "config.json"),
    [MODELPACK_DOC]: kind("doc", "README.md"),
    "application/vnd.cncf.model.code.v1.raw": kind("code", "code"),
    "application/vnd.cncf.model.dataset.v1.raw": kind("dataset", "dataset"),
  },
  docker: {
    "application/vnd.docker.ai.gguf.v3": kind("model", "model.gguf", false),
    "application/vnd.docker.ai.mmproj": kind("mmproj", "mmproj.gguf"),
    "application/vnd.docker.ai.gguf.v3.mmproj": kind("mmproj", "mmproj.gguf"),
    [DOCKER_LICENSE]: kind("license", "LICENSE"),
    [DOCKER_CHAT_TEMPLATE]: kind("chat_template", "template.jinja"),
  },
  ollama: {
    "application/vnd.ollama.image.model": kind("model", "model.gguf", false),
    "application/vnd.ollama.image.projector": kind("mmproj", "mmproj.gguf"),
    "application/vnd.ollama.image.license": kind("license", "LICENSE"),
    "application/vnd.ollama.image.template": kind("ollama_template", "template"),
    "application/vnd.ollama.image.system": kind("system", "system"),
    "application/vnd.ollama.image.params": kind("params", "params.json"),
    "application/vnd.ollama.image.messages": kind("messages", "messages.json"),
  },
};

/** A ModelPack weight layer named as a projector (ModelPack has no projector type): `mmproj` in its name. */
export const MODELPACK_PROJECTOR_NAME = /mmproj/i;

/** Every accepted type, for the error that lists them. */
export function supportedTypes(): { manifests: string[]; configs: string[]; layers: string[] } {
  return {
    manifests: [...MANIFEST_TYPES, ...INDEX_TYPES, `artifactType ${MODELPACK_ARTIFACT}`],
    configs: [MODELPACK_CONFIG, ...DOCKER_AI_CONFIGS, "an Ollama manifest's image config"],
    layers: Object.values(LAYER_TYPES).flatMap((types) => Object.keys(types)),
  };
}

/** `OCI_UNSUPPORTED`: `what` (a manifest or layer type) is none lode reads; the error lists those it does. */
export function unsupported(registry: string, what: string): LodeError {
  const supported = supportedTypes();
  return new LodeError("OCI_UNSUPPORTED", `${registry}: ${what} is not a model artifact lode can pull`, {
    details: { registry, ...supported },
    hint: `lode pulls CNCF ModelPack, Docker Model Runner and Ollama artifacts with uncompressed layers. ` +
      `Layer types it reads: ${supported.layers.join(", ")}.`,
  });
}

/**
 * Docker Model Runner's artifact of a stored model (`lode push --format docker`), as `docker model
 * package --gguf` writes it: an OCI image manifest whose config is
 * `application/vnd.docker.ai.model.config.v0.1+json` — `config` (`format: gguf`, `architecture`,
 * `parameters`, `quantization`, `size`), `descriptor`, `rootfs` (`type: rootfs`, the layers' digests in
 * `diff_ids`) — and one uncompressed layer per file: `application/vnd.docker.ai.gguf.v3` for the model
 * and each shard, `application/vnd.docker.ai.mmproj` for a projector, `application/vnd.docker.ai.license`
 * for the license and `application/vnd.docker.ai.chat.template.jinja` for the chat template, each named by
 * its `org.cncf.model.filepath` annotation too. Nothing here holds a time (`descriptor.created` is left out)
 * or a credential: the same model gives the same bytes.
 *
 * @example
 * ```ts
 * import { dockerConfig, dockerManifest } from "./docker_build.ts";
 * const config = dockerConfig({ architecture: "llama", parameters: 292800, quantization: "F32" }, []);
 * const manifest = dockerManifest({ digest: "sha256:…", size: config.length }, []);
 * manifest.config.mediaType; // "application/vnd.docker.ai.model.config.v0.1+json"
 * ```
 * @module
 */
import {
  DOCKER_AI_CONFIGS,
  DOCKER_CHAT_TEMPLATE,
  DOCKER_LICENSE,
  FILEPATH_ANNOTATION,
  MANIFEST_TYPES,
} from "./media_types.ts";
import { type Descriptor, type ModelFacts, paramSize, type PushLayer } from "./modelpack_build.ts";

/** Docker Model Runner's GGUF layer type. */
export const DOCKER_GGUF = "application/vnd.docker.ai.gguf.v3";
/** Docker Model Runner's projector layer type. */
export const DOCKER_MMPROJ = "application/vnd.docker.ai.mmproj";

/** The Docker layer type of a file of `role`. */
export function dockerLayerType(role: string): string {
  if (role === "mmproj") return DOCKER_MMPROJ;
  if (role === "license") return DOCKER_LICENSE;
  if (role === "chat_template") return DOCKER_CHAT_TEMPLATE;
  return DOCKER_GGUF;
}

/** `1185376` → `"1.13 MiB"` (the config's `size`). */
function sizeText(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes, i = 0;
  while (n >= 1024 && i < units.length - 1) n /= 1024, i++;
  return i === 0 ? `${n} B` : `${Number(n.toFixed(2))} ${units[i]}`;
}

/** The config blob's bytes: facts of the model's GGUF header, the layers' digests. */
export function dockerConfig(facts: ModelFacts, layers: PushLayer[]): Uint8Array {
  const weights = layers.filter((l) => dockerLayerType(l.role) === DOCKER_GGUF);
  const config = {
    config: {
      format: "gguf",
      quantization: facts.quantization,
      parameters: paramSize(facts.parameters).toUpperCase(),
      ...(facts.architecture ? { architecture: facts.architecture } : {}),
      size: sizeText(weights.reduce((n, l) => n + l.size, 0)),
    },
    descriptor: {},
    rootfs: { type: "rootfs", diff_ids: layers.map((l) => l.digest) },
  };
  return new TextEncoder().encode(JSON.stringify(config));
}

/** A Docker model manifest as lode writes it. */
export interface DockerModelManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** The manifest of the config blob `config` and the model's `layers`, in the model's file order. */
export function dockerManifest(
  config: { digest: string; size: number },
  layers: PushLayer[],
): DockerModelManifest {
  return {
    schemaVersion: 2,
    mediaType: MANIFEST_TYPES[0],
    config: { mediaType: DOCKER_AI_CONFIGS[0], digest: config.digest, size: config.size },
    layers: layers.map((l) => ({
      mediaType: dockerLayerType(l.role),
      digest: l.digest,
      size: l.size,
      annotations: { [FILEPATH_ANNOTATION]: l.filename },
    })),
  };
}

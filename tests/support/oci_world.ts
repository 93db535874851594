/**
 * The world of the OCI pull tests: a real registry ({@link startOciRegistry}) in a temp dir, a store, the
 * CLI with the test CA, and stories260K pushed in each accepted artifact shape.
 *
 * @example
 * ```ts
 * import { pushStories, withRegistry } from "./oci_world.ts";
 * await withRegistry("token", async ({ reg, lode }) => {
 *   await pushStories(reg, "models/m", "v1", "docker");
 *   await lode(["pull", `oci://${reg.host}/models/m:v1`]);
 * });
 * ```
 * @module
 */
import { runLode } from "./lode_cli.ts";
import { OCI_USER, type OciRegistry, type OciRegistryOptions, startOciRegistry } from "./oci_registry.ts";

/** The bytes of tests/fixtures/stories260K.gguf. */
export const STORIES: Uint8Array = await Deno.readFile(
  new URL("../fixtures/stories260K.gguf", import.meta.url),
);
/** The registries' user, as lode's environment. */
export const CREDS = { LODE_OCI_USERNAME: OCI_USER.username, LODE_OCI_PASSWORD: OCI_USER.password };
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** `{}`, an empty config blob. */
export const EMPTY_JSON: Uint8Array = new TextEncoder().encode("{}");

/** What a test body gets. */
export interface World {
  reg: OciRegistry;
  dir: string;
  store: string;
  lode(args: string[], env?: Record<string, string>): ReturnType<typeof runLode>;
}

/**
 * Runs `body` with a registry of `auth` (plain http when asked; its tokens' expiry as `options` says) in
 * a temp dir, removed afterwards.
 */
export async function withRegistry(
  auth: "basic" | "token",
  body: (w: World) => Promise<void>,
  plainHttp = false,
  options: Pick<OciRegistryOptions, "tokenExpiry"> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-oci-" });
  try {
    await using reg = await startOciRegistry({ dir: `${dir}/registry`, auth, plainHttp, ...options });
    const store = `${dir}/store`;
    await body({
      reg,
      dir,
      store,
      lode: (args, env = {}) =>
        runLode(["--ca-cert", reg.ca.caCertPath, ...args], {
          store,
          env: { DOCKER_CONFIG: `${dir}/docker`, ...env },
        }),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A descriptor of a blob. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** A descriptor. */
export const layer = (
  mediaType: string,
  digest: string,
  size: number,
  annotations?: Record<string, string>,
): Descriptor => ({
  mediaType,
  digest,
  size,
  ...(annotations ? { annotations } : {}),
});

/** The config media type of a Docker Model Runner artifact (format gguf), as `docker model push` writes it. */
export const DOCKER_MODEL_CONFIG = "application/vnd.docker.ai.model.config.v0.1+json";

/**
 * Pushes a Docker Model Runner artifact as REPO:TAG: each layer's bytes as a blob under its media type, in
 * order, with a config of format gguf; the digests of the manifest and of the layers.
 */
export async function pushDockerArtifact(
  reg: OciRegistry,
  repo: string,
  tag: string,
  layers: { mediaType: string; bytes: Uint8Array }[],
): Promise<{ digest: string; layers: string[] }> {
  const descriptors: Descriptor[] = [];
  for (const l of layers) {
    descriptors.push(layer(l.mediaType, await reg.pushBlob(repo, l.bytes), l.bytes.length));
  }
  const config = new TextEncoder().encode(JSON.stringify({ config: { format: "gguf" }, descriptor: {} }));
  const configDigest = await reg.pushBlob(repo, config);
  const digest = await reg.pushManifest(repo, tag, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: layer(DOCKER_MODEL_CONFIG, configDigest, config.length),
    layers: descriptors,
  }, OCI_MANIFEST);
  return { digest, layers: descriptors.map((d) => d.digest) };
}

/**
 * Pushes stories260K (or `o.model`) in `shape` as REPO:TAG, with a license layer (`o.license`, default
 * "MIT\n") in the modelpack and docker shapes; the manifest's digest.
 */
export async function pushStories(
  reg: OciRegistry,
  repo: string,
  tag: string,
  shape: string,
  o: { model?: Uint8Array; license?: Uint8Array } = {},
): Promise<string> {
  const model = o.model ?? STORIES;
  const license = o.license ?? new TextEncoder().encode("MIT\n");
  if (shape === "docker") {
    const pushed = await pushDockerArtifact(reg, repo, tag, [
      { mediaType: "application/vnd.docker.ai.gguf.v3", bytes: model },
      { mediaType: "application/vnd.docker.ai.license", bytes: license },
    ]);
    return pushed.digest;
  }
  const digest = await reg.pushBlob(repo, model);
  const licenseDigest = await reg.pushBlob(repo, license);
  if (shape === "modelpack") {
    const config = new TextEncoder().encode(JSON.stringify({ descriptor: {}, config: { format: "gguf" } }));
    const configDigest = await reg.pushBlob(repo, config);
    return await reg.pushManifest(repo, tag, {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.cncf.model.manifest.v1+json",
      config: layer("application/vnd.cncf.model.config.v1+json", configDigest, config.length),
      layers: [
        layer("application/vnd.cncf.model.weight.v1.raw", digest, model.length, {
          "org.cncf.model.filepath": "stories260K.gguf",
        }),
        layer("application/vnd.cncf.model.doc.v1.raw", licenseDigest, license.length, {
          "org.cncf.model.filepath": "LICENSE",
        }),
      ],
    }, OCI_MANIFEST);
  }
  const configDigest = await reg.pushBlob(repo, EMPTY_JSON);
  return await reg.pushManifest(repo, tag, {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST,
    config: layer("application/vnd.docker.container.image.v1+json", configDigest, EMPTY_JSON.length),
    layers: [
      layer("application/vnd.ollama.image.model", digest, model.length),
      layer("application/vnd.ollama.image.license", licenseDigest, license.length),
    ],
  }, DOCKER_MANIFEST);
}

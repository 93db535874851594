/**
 * Pushing a stored model to an OCI registry, as a CNCF ModelPack artifact (modelpack_build.ts, the
 * default) or in Docker Model Runner's format (docker_build.ts): each blob the registry lacks (a `HEAD
 * /v2/REPO/blobs/DIGEST` answering 404) is mounted from another repository of that registry lode knows
 * holds it, or uploaded in chunks that resume after a kill (blob_upload.ts); a blob it has is skipped.
 * The manifest is PUT last, under the tag: until then the tag is unchanged.
 *
 * Mount sources are the repositories of the same registry that stored models were pulled from (their
 * manifests' `source.repo`) and that hold the blob (the model's file is one of theirs).
 *
 * Auth as for a pull, with the push scope; a token that expires during a long push is fetched again
 * (oci_session.ts). Credentials go to the registry's host and its token realm only, never in an event.
 *
 * @example
 * ```ts
 * import type { ModelStore } from "../../store/model_store.ts";
 * import { parseOciBody } from "./oci_ref.ts";
 * import { pushModel, type PushEffects } from "./oci_push.ts";
 * declare const store: ModelStore;
 * declare const effects: PushEffects;
 * const ref = parseOciBody("oci://127.0.0.1:5000/m/stories:v1", "127.0.0.1:5000/m/stories:v1");
 * const pushed = await pushModel(store, "stories260K", ref, effects, { format: "docker" });
 * pushed.digest; // the manifest's "sha256:…"
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { PushedEvent, PushEvent } from "../../events/push_event.ts";
import { inspectGgufModel } from "../../gguf/split.ts";
import { parseBlobRef } from "../../store/layout.ts";
import { isTextRole, type Manifest } from "../../store/manifest.ts";
import type { ModelStore } from "../../store/model_store.ts";
import { type BlobSource, uploadBlob } from "./blob_upload.ts";
import { dockerConfig, dockerManifest } from "./docker_build.ts";
import { modelPackConfig, modelPackManifest, type PushLayer } from "./modelpack_build.ts";
import { plainHttp, registryUrl } from "./oci_manifest.ts";
import { formatOciRef, type OciRef } from "./oci_ref.ts";
import { refused, RegistrySession, type SessionEffects } from "./oci_session.ts";
import { uploadStatePath } from "./upload_state.ts";

/** The effects of a push. */
export interface PushEffects extends SessionEffects {
  emit(event: PushEvent): void;
}

/** The artifact shapes lode pushes. */
export type PushFormat = "modelpack" | "docker";

/** Options of {@link pushModel}. */
export interface PushOptions {
  /** Bytes per PATCH (default 64 MiB). */
  chunkBytes?: number;
  /** `modelpack` (default) or `docker`. */
  format?: PushFormat;
}

const DEFAULT_CHUNK = 64 * 1024 * 1024;

async function sha256Of(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The roles of the files a push carries: the GGUF files (every role but the text ones), the license and the
 * chat template. Ollama's Go template (`ollama_template`) has no layer type in either format and stays home.
 */
function pushed(role: string): boolean {
  return !isTextRole(role) || role === "license" || role === "chat_template";
}

/** The layers of a stored model: every file it pushes, the primary one first, as the store's manifest lists them. */
function layersOf(manifest: Manifest): PushLayer[] {
  const files = manifest.files ?? [
    {
      role: "model",
      filename: manifest.source.filename,
      blob: manifest.blob,
      size_bytes: manifest.size_bytes,
    },
  ];
  return files.filter((f) => pushed(f.role)).map((f) => ({
    digest: f.blob,
    size: f.size_bytes,
    filename: f.filename.slice(f.filename.lastIndexOf("/") + 1) || `${manifest.name}.gguf`,
    role: f.role,
  }));
}

/**
 * The repositories of `host` that stored models were pulled from, by blob digest (`sha256:HEX`): where a
 * blob can be mounted from.
 */
async function mountSources(store: ModelStore, host: string): Promise<Map<string, string[]>> {
  const byDigest = new Map<string, string[]>();
  const { models } = await store.list();
  for (const m of models) {
    if (m.source.registry !== "oci" || !m.source.repo.startsWith(`${host}/`)) continue;
    const repository = m.source.repo.slice(host.length + 1);
    for (const f of layersOf(m)) {
      const repos = byDigest.get(f.digest) ?? [];
      if (!repos.includes(repository)) repos.push(repository);
      byDigest.set(f.digest, repos);
    }
  }
  return byDigest;
}

/**
 * Pushes the stored model `name` to `ref` (a tag); the `pushed` event's fields. `MODEL_NOT_FOUND` when
 * the store lacks it, `BLOB_MISSING` when a file is gone, `ACCESS_DENIED` naming the registry when it
 * refuses the credentials or wants some lode does not have.
 */
export async function pushModel(
  store: ModelStore,
  name: string,
  ref: OciRef,
  effects: PushEffects,
  options: PushOptions = {},
): Promise<PushedEvent> {
  const started = performance.now();
  if (ref.digest || ref.tag === undefined) {
    throw new LodeError("USAGE", `lode push takes a tag (oci://HOST/REPO:TAG), not a digest`, {
      details: { ref: formatOciRef(ref) },
    });
  }
  const format = options.format ?? "modelpack";
  const manifest = await store.getManifest(name);
  const modelPath = await store.modelPathOf(name); // every blob checked to exist
  const layers = layersOf(manifest);
  const summary = await inspectGgufModel(modelPath);
  const configBytes = format === "docker"
    ? dockerConfig(summary, layers)
    : modelPackConfig(manifest.name, summary, layers);
  const config = { digest: `sha256:${await sha256Of(configBytes)}`, size: configBytes.length };
  const http = plainHttp(ref.host, effects.registry.settings.httpHosts);
  const session = new RegistrySession(ref, effects);
  const chunkBytes = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK);
  const sources = await mountSources(store, ref.host);
  let uploaded = 0, skipped = 0, mounted = 0, bytes = 0;
  const blobs: (PushLayer & { source: BlobSource })[] = [
    ...layers.map((l) => ({ ...l, source: { path: store.layout.blobPath(parseBlobRef(l.digest)!) } })),
    { ...config, role: "config", filename: "", source: { bytes: configBytes } },
  ];
  // The token asks for pull access to every repository a blob may be mounted from.
  for (const b of blobs) for (const from of sources.get(b.digest) ?? []) session.alsoPullFrom(from);
  effects.emit({
    event: "push_started",
    name: manifest.name,
    reference: formatOciRef(ref),
    format,
    blobs: blobs.length,
    total_bytes: blobs.reduce((n, b) => n + b.size, 0),
  });
  for (const blob of blobs) {
    const head = await session.send("HEAD", registryUrl(ref, `blobs/${blob.digest}`, http));
    await head.body?.cancel();
    const have = head.status === 200;
    if (!have && head.status !== 404) throw await refused(head, ref.host, `a check of ${blob.digest}`);
    let mountedFrom: string | undefined;
    if (!have) {
      const outcome = await uploadBlob(session, {
        digest: blob.digest,
        size: blob.size,
        source: blob.source,
        statePath: await uploadStatePath(store.layout.root, ref.host, ref.repository, blob.digest),
        chunkBytes,
        http,
        mountFrom: sources.get(blob.digest) ?? [],
        emit: (e) => effects.emit(e),
      });
      mountedFrom = outcome.mountedFrom;
      if (mountedFrom !== undefined) mounted++;
      else {
        uploaded++;
        bytes += blob.size;
      }
    } else skipped++;
    effects.emit({
      event: "push_blob",
      digest: blob.digest,
      size_bytes: blob.size,
      role: blob.role,
      ...(blob.role !== "config" ? { filename: blob.filename } : {}),
      skipped: have,
      ...(mountedFrom !== undefined ? { mounted_from: mountedFrom } : {}),
    });
  }
  const body = format === "docker" ? dockerManifest(config, layers) : modelPackManifest(config, layers);
  const manifestBytes = new TextEncoder().encode(JSON.stringify(body));
  const put = await session.send("PUT", registryUrl(ref, `manifests/${ref.tag}`, http), {
    "content-type": body.mediaType,
  }, manifestBytes);
  if (put.status !== 201) throw await refused(put, ref.host, `the manifest of ${formatOciRef(ref)}`);
  await put.body?.cancel();
  const pushed: PushedEvent = {
    event: "pushed",
    name: manifest.name,
    reference: formatOciRef(ref),
    digest: `sha256:${await sha256Of(manifestBytes)}`,
    blobs: blobs.length,
    blobs_uploaded: uploaded,
    blobs_skipped: skipped,
    blobs_mounted: mounted,
    bytes_uploaded: bytes,
    ms: Math.round(performance.now() - started),
  };
  effects.emit(pushed);
  return pushed;
}

/**
 * Pushing a stored model to an OCI registry as a CNCF ModelPack artifact (modelpack_build.ts): each blob
 * the registry lacks (a `HEAD /v2/REPO/blobs/DIGEST` answering 404) is uploaded in chunks — `POST
 * /v2/REPO/blobs/uploads/`, then `PATCH`es of at most {@link PushOptions.chunkBytes} read from the store's
 * file at their offset (`Content-Range`), then `PUT ?digest=` — so a large blob never sits in memory; a
 * blob it has is skipped. The manifest is PUT last, under the tag: until then the tag is unchanged.
 * An upload cut off (the registry gone, the process killed) goes on at the next push from the bytes the
 * registry reports having (upload_state.ts).
 *
 * Auth as for a pull (oci_auth.ts), with the scope `repository:REPO:pull,push`: the first request goes
 * without credentials; the 401's challenge says how to get them. Credentials go to the registry's host
 * and its token realm only, and are never in an event.
 *
 * @example
 * ```ts
 * import type { ModelStore } from "../../store/model_store.ts";
 * import { parseOciBody } from "./oci_ref.ts";
 * import { pushModel, type PushEffects } from "./oci_push.ts";
 * declare const store: ModelStore;
 * declare const effects: PushEffects;
 * const ref = parseOciBody("oci://127.0.0.1:5000/m/stories:v1", "127.0.0.1:5000/m/stories:v1");
 * const pushed = await pushModel(store, "stories260K", ref, effects);
 * pushed.digest; // the manifest's "sha256:…"
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { PushedEvent, PushEvent } from "../../events/push_event.ts";
import { inspectGgufModel } from "../../gguf/split.ts";
import { parseBlobRef } from "../../store/layout.ts";
import type { ModelStore } from "../../store/model_store.ts";
import type { RegistryContext } from "../registry.ts";
import { ociCredentials } from "./docker_config.ts";
import { authorize, ociAccessDenied, parseChallenge } from "./oci_auth.ts";
import { plainHttp, registryUrl } from "./oci_manifest.ts";
import { formatOciRef, type OciRef } from "./oci_ref.ts";
import { clearUploadState, readUploadState, uploadStatePath, writeUploadState } from "./upload_state.ts";
import { modelPackConfig, modelPackManifest, type PushLayer } from "./modelpack_build.ts";

/** The effects of a push. */
export interface PushEffects {
  /**
   * Sends one request (redirects not followed) through the host policy and the trusted CAs; transport
   * failures as typed errors (`NETWORK`, `TLS`, `INTERRUPTED`). Any HTTP status is returned.
   */
  send(
    method: string,
    url: URL,
    init: { headers: Record<string, string>; body?: Uint8Array },
  ): Promise<Response>;
  /** GETs of the token realm, the settings (credentials), the signal. */
  registry: RegistryContext;
  emit(event: PushEvent): void;
}

/** Options of {@link pushModel}. */
export interface PushOptions {
  /** Bytes per PATCH (default 16 MiB). */
  chunkBytes?: number;
}

const DEFAULT_CHUNK = 16 * 1024 * 1024;

/** A request to one registry with its auth, answering the first 401's challenge with the push scope. */
class RegistrySession {
  #authorization: string | undefined;
  #tried = false;
  constructor(readonly ref: OciRef, readonly effects: PushEffects) {}

  async send(
    method: string,
    url: URL,
    headers: Record<string, string> = {},
    body?: Uint8Array,
  ): Promise<Response> {
    const { host, repository } = this.ref;
    const go = () =>
      this.effects.send(method, url, {
        headers: { ...headers, ...(this.#authorization ? { authorization: this.#authorization } : {}) },
        body,
      });
    let response = await go();
    if (response.status === 401 && !this.#tried) {
      this.#tried = true;
      await response.body?.cancel();
      const challenge = parseChallenge(response.headers.get("www-authenticate") ?? undefined);
      const scoped = challenge
        ? { ...challenge, params: { ...challenge.params, scope: `repository:${repository}:pull,push` } }
        : null;
      const creds = await ociCredentials(host, this.effects.registry.settings);
      this.#authorization = await authorize(this.effects.registry, host, repository, scoped, creds);
      response = await go();
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw ociAccessDenied(host, response.status, this.#authorization !== undefined);
    }
    return response;
  }
}

async function refused(response: Response, host: string, what: string): Promise<LodeError> {
  const text = (await response.text().catch(() => "")).slice(0, 500);
  return new LodeError("HTTP_STATUS", `${host} refused ${what} (HTTP ${response.status})`, {
    details: { registry: host, status: response.status, body: text },
    hint: "The registry's answer is in details.body; check the repository name and your push rights.",
  });
}

async function sha256Of(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads `length` bytes of `file` at `offset`. */
async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) throw new LodeError("IO", `the store's blob ended after ${offset + got} bytes`);
    got += n;
  }
  return buf;
}

/** What one blob is: its bytes in memory (the config) or a store file. */
type BlobSource = { bytes: Uint8Array } | { path: string };

/** Uploads one blob (POST, PATCHes, PUT); the bytes sent. */
async function upload(
  session: RegistrySession,
  http: boolean,
  digest: string,
  size: number,
  source: BlobSource,
  chunkBytes: number,
  statePath: string,
): Promise<void> {
  const { ref, effects } = session;
  let resumed = await resumePoint(session, statePath, size);
  if (!resumed) {
    const start = await session.send("POST", registryUrl(ref, "blobs/uploads/", http));
    if (start.status !== 202) throw await refused(start, ref.host, `to start an upload of ${digest}`);
    await start.body?.cancel();
    resumed = { location: nextLocation(start, ref.host), offset: 0 };
  }
  let location = resumed.location;
  if (resumed.offset > 0) {
    effects.emit({ event: "push_progress", digest, done_bytes: resumed.offset, total_bytes: size });
  }
  const file = "path" in source ? await Deno.open(source.path, { read: true }) : null;
  try {
    for (let offset = resumed.offset; offset < size;) {
      effects.registry.signal?.throwIfAborted();
      const length = Math.min(chunkBytes, size - offset);
      const bytes = file ? await readAt(file, offset, length) : (source as { bytes: Uint8Array }).bytes
        .subarray(offset, offset + length);
      const patch = await session.send("PATCH", location, {
        "content-type": "application/octet-stream",
        "content-range": `${offset}-${offset + length - 1}`,
        "content-length": String(length),
      }, bytes);
      if (patch.status !== 202) throw await refused(patch, ref.host, `a chunk of ${digest}`);
      await patch.body?.cancel();
      location = nextLocation(patch, ref.host, location);
      offset += length;
      await writeUploadState(statePath, location.href);
      effects.emit({ event: "push_progress", digest, done_bytes: offset, total_bytes: size });
    }
  } finally {
    file?.close();
  }
  const done = new URL(location);
  done.searchParams.set("digest", digest);
  const put = await session.send("PUT", done, { "content-length": "0" });
  if (put.status !== 201) throw await refused(put, ref.host, `the upload of ${digest}`);
  await put.body?.cancel();
  await clearUploadState(statePath);
}

/**
 * Where the upload recorded at `statePath` stands: its URL and the bytes the registry has (its `Range`,
 * `0-LAST`), or null when there is none to go on with (none recorded, gone, or nothing received yet).
 */
async function resumePoint(
  session: RegistrySession,
  statePath: string,
  size: number,
): Promise<{ location: URL; offset: number } | null> {
  const recorded = await readUploadState(statePath);
  if (!recorded) return null;
  let url: URL;
  try {
    url = new URL(recorded);
  } catch {
    return null;
  }
  if (url.host !== session.ref.host) return null;
  const status = await session.send("GET", url);
  await status.body?.cancel();
  const last = /^0-(\d+)$/.exec(status.headers.get("range") ?? "")?.[1];
  // "0-0" is both nothing and one byte received: start again.
  if (status.status !== 204 || last === undefined || Number(last) === 0 || Number(last) + 1 > size) {
    await clearUploadState(statePath);
    return null;
  }
  return { location: nextLocation(status, session.ref.host, url), offset: Number(last) + 1 };
}

/** The upload URL an answer's `Location` names (relative to the registry), else `current`. */
function nextLocation(response: Response, host: string, current?: URL): URL {
  const location = response.headers.get("location");
  if (!location) {
    if (current) return current;
    throw new LodeError("HTTP_STATUS", `${host} started an upload without a Location`, {
      details: { registry: host, status: response.status },
    });
  }
  const base = current ?? new URL(response.url || `https://${host}/`);
  const next = new URL(location, base);
  if (next.host !== host) {
    throw new LodeError("HTTP_STATUS", `${host} sent an upload to another host (${next.host})`, {
      details: { registry: host, location: next.origin },
    });
  }
  return next;
}

/**
 * Pushes the stored model `name` to `ref` (a tag) as a ModelPack artifact; the `pushed` event's fields.
 * `MODEL_NOT_FOUND` when the store lacks it, `BLOB_MISSING` when a file is gone, `ACCESS_DENIED` naming
 * the registry when it refuses the credentials or wants some lode does not have.
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
  const manifest = await store.getManifest(name);
  const modelPath = await store.modelPathOf(name); // every blob checked to exist
  const files = manifest.files ?? [
    {
      role: "model",
      filename: manifest.source.filename,
      blob: manifest.blob,
      size_bytes: manifest.size_bytes,
    },
  ];
  const layers: PushLayer[] = files.map((f) => ({
    digest: f.blob,
    size: f.size_bytes,
    filename: f.filename.slice(f.filename.lastIndexOf("/") + 1) || `${manifest.name}.gguf`,
    role: f.role,
  }));
  const summary = await inspectGgufModel(modelPath);
  const configBytes = modelPackConfig(manifest.name, summary, layers);
  const config = { digest: `sha256:${await sha256Of(configBytes)}`, size: configBytes.length };
  const http = plainHttp(ref.host, effects.registry.settings.httpHosts);
  const session = new RegistrySession(ref, effects);
  const chunkBytes = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK);
  let uploaded = 0, skipped = 0, bytes = 0;
  const blobs: { digest: string; size: number; role: string; filename?: string; source: BlobSource }[] = [
    ...layers.map((l) => ({
      ...l,
      source: { path: store.layout.blobPath(parseBlobRef(l.digest)!) },
    })),
    { ...config, role: "config", source: { bytes: configBytes } },
  ];
  for (const blob of blobs) {
    const head = await session.send("HEAD", registryUrl(ref, `blobs/${blob.digest}`, http));
    await head.body?.cancel();
    const have = head.status === 200;
    if (!have && head.status !== 404) throw await refused(head, ref.host, `a check of ${blob.digest}`);
    if (!have) {
      const state = await uploadStatePath(store.layout.root, ref.host, ref.repository, blob.digest);
      await upload(session, http, blob.digest, blob.size, blob.source, chunkBytes, state);
      uploaded++;
      bytes += blob.size;
    } else skipped++;
    effects.emit({
      event: "push_blob",
      digest: blob.digest,
      size_bytes: blob.size,
      role: blob.role,
      ...(blob.filename !== undefined ? { filename: blob.filename } : {}),
      skipped: have,
    });
  }
  const manifestBytes = new TextEncoder().encode(JSON.stringify(modelPackManifest(config, layers)));
  const put = await session.send("PUT", registryUrl(ref, `manifests/${ref.tag}`, http), {
    "content-type": "application/vnd.oci.image.manifest.v1+json",
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
    bytes_uploaded: bytes,
    ms: Math.round(performance.now() - started),
  };
  effects.emit(pushed);
  return pushed;
}

/**
 * One blob into a registry: mounted from another repository of the same registry when lode knows one
 * that has it (`POST /v2/REPO/blobs/uploads/?mount=DIGEST&from=FROM`; a 201 is the blob in place, a 202
 * an upload session to go on with), else uploaded in chunks — `POST /v2/REPO/blobs/uploads/`, then
 * `PATCH`es of at most `chunkBytes` read from the store's file at their offset (`Content-Range`), then
 * `PUT ?digest=` — so a large blob never sits in memory. An upload cut off (the registry gone, the
 * process killed) goes on at the next push from the bytes the registry reports having (upload_state.ts).
 *
 * @example
 * ```ts
 * import { uploadBlob } from "./blob_upload.ts";
 * import type { RegistrySession } from "./oci_session.ts";
 * declare const session: RegistrySession;
 * const how = await uploadBlob(session, {
 *   digest: "sha256:…", size: 3, source: { bytes: new Uint8Array([1, 2, 3]) },
 *   statePath: "/srv/models/locks/uploads/k.json", chunkBytes: 16 << 20, http: false,
 *   emit: () => {},
 * });
 * how.mountedFrom; // undefined: uploaded
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { PushProgressEvent } from "../../events/push_event.ts";
import { registryUrl } from "./oci_manifest.ts";
import type { RegistrySession } from "./oci_session.ts";
import { refused } from "./oci_session.ts";
import { clearUploadState, readUploadState, writeUploadState } from "./upload_state.ts";

/** What one blob is: its bytes in memory (the config) or a store file. */
export type BlobSource = { bytes: Uint8Array } | { path: string };

/** One blob to send. */
export interface BlobUpload {
  /** `sha256:HEX`. */
  digest: string;
  size: number;
  source: BlobSource;
  /** The upload record's path (upload_state.ts). */
  statePath: string;
  chunkBytes: number;
  /** Plain http (`--allow-http`). */
  http: boolean;
  /** Repositories of the same registry to try mounting the blob from, in order. */
  mountFrom?: string[];
  emit(event: PushProgressEvent): void;
}

/** How a blob got there: the repository it was mounted from, or uploaded (none). */
export interface BlobOutcome {
  mountedFrom?: string;
}

/**
 * A stream of `length` bytes of the file at `path` from `offset`: the file's own readable stream (read as
 * the request sends it), cut at `length`. A chunk is never held in memory whole: fetch sends a large
 * byte-array body slowly, and a stream of freshly allocated pieces more slowly than the file's own.
 */
function rangeStream(path: string, offset: number, length: number): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let left = length;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!reader) {
        const file = await Deno.open(path, { read: true });
        await file.seek(offset, Deno.SeekMode.Start);
        reader = file.readable.getReader(); // closes the file at its end or cancel
      }
      const { value, done } = await reader.read();
      if (done) throw new LodeError("IO", `the store's blob ${path} ended ${left} bytes early`);
      const piece = value.length > left ? value.subarray(0, left) : value;
      left -= piece.length;
      controller.enqueue(piece);
      if (left === 0) {
        await reader.cancel();
        controller.close();
      }
    },
    async cancel() {
      await reader?.cancel();
    },
  });
}

/**
 * Mounts `blob` from its `mountFrom` repositories: the repository on a 201; on a 202 (the registry could
 * not mount it) the upload session it opened; null when every answer was another status.
 */
async function tryMount(
  session: RegistrySession,
  blob: BlobUpload,
): Promise<{ mounted: string } | { location: URL } | null> {
  const { ref } = session;
  for (const from of blob.mountFrom ?? []) {
    if (from === ref.repository) continue;
    const url = registryUrl(ref, "blobs/uploads/", blob.http);
    url.searchParams.set("mount", blob.digest);
    url.searchParams.set("from", from);
    const answer = await session.send("POST", url);
    await answer.body?.cancel();
    if (answer.status === 201) return { mounted: from };
    // A 202: the registry could not mount it (not there, or not allowed) and opened an upload instead.
    if (answer.status === 202) return { location: nextLocation(answer, ref.host) };
  }
  return null;
}

/** Puts `blob` into the registry (see the module doc). */
export async function uploadBlob(session: RegistrySession, blob: BlobUpload): Promise<BlobOutcome> {
  const { ref, effects } = session;
  const { digest, size, source, statePath, chunkBytes } = blob;
  let resumed = await resumePoint(session, statePath, size);
  if (!resumed) {
    const mount = await tryMount(session, blob);
    if (mount && "mounted" in mount) return { mountedFrom: mount.mounted };
    if (mount) resumed = { location: mount.location, offset: 0 };
  }
  if (!resumed) {
    const start = await session.send("POST", registryUrl(ref, "blobs/uploads/", blob.http));
    if (start.status !== 202) throw await refused(start, ref.host, `to start an upload of ${digest}`);
    await start.body?.cancel();
    resumed = { location: nextLocation(start, ref.host), offset: 0 };
  }
  let location = resumed.location;
  if (resumed.offset > 0) {
    blob.emit({ event: "push_progress", digest, done_bytes: resumed.offset, total_bytes: size });
  }
  for (let offset = resumed.offset; offset < size;) {
    effects.registry.signal?.throwIfAborted();
    const length = Math.min(chunkBytes, size - offset);
    const at = offset;
    const body = "path" in source
      ? () => rangeStream(source.path, at, length)
      : source.bytes.subarray(offset, offset + length);
    const patch = await session.send("PATCH", location, {
      "content-type": "application/octet-stream",
      "content-range": `${offset}-${offset + length - 1}`,
      "content-length": String(length),
    }, body);
    if (patch.status !== 202) throw await refused(patch, ref.host, `a chunk of ${digest}`);
    await patch.body?.cancel();
    location = nextLocation(patch, ref.host, location);
    offset += length;
    await writeUploadState(statePath, location.href);
    blob.emit({ event: "push_progress", digest, done_bytes: offset, total_bytes: size });
  }
  const done = new URL(location);
  done.searchParams.set("digest", digest);
  const put = await session.send("PUT", done, { "content-length": "0" });
  if (put.status !== 201) throw await refused(put, ref.host, `the upload of ${digest}`);
  await put.body?.cancel();
  await clearUploadState(statePath);
  return {};
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

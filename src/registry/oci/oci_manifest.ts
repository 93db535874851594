/**
 * Fetching an OCI manifest: `GET /v2/REPO/manifests/REF` with every accepted type in `Accept`, the
 * digest of the bytes computed (and checked against a pinned `@sha256:`), and an image index followed
 * to the one manifest it holds for a model.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { sha256Bytes } from "../../store/hash.ts";
import type { RegistryContext } from "../registry.ts";
import type { OciCredentials } from "./docker_config.ts";
import { INDEX_TYPES, MANIFEST_ACCEPT, MANIFEST_TYPES, unsupported } from "./media_types.ts";
import { getWithAuth } from "./oci_auth.ts";
import type { OciRef } from "./oci_ref.ts";

/** A descriptor: what a manifest says of a blob or of another manifest. */
export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

/** An image manifest (OCI or Docker schema 2). */
export interface OciManifest {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: OciDescriptor;
  layers?: OciDescriptor[];
  manifests?: OciDescriptor[];
  annotations?: Record<string, string>;
}

/** A fetched manifest: its digest (the pin), its media type and content. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  manifest: OciManifest;
  /** The `Authorization` value that worked, for the blob downloads (undefined: anonymous). */
  authorization?: string;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * The registry URL of `path` (`manifests/…`, `blobs/…`) in `ref`'s repository: https, or plain http for a
 * host allowed over http (`--allow-http`).
 */
export function registryUrl(ref: Pick<OciRef, "host" | "repository">, path: string, http = false): URL {
  return new URL(`${http ? "http" : "https"}://${ref.host}/v2/${ref.repository}/${path}`);
}

/** True when `host` (`name[:port]`) is allowed over plain http by `httpHosts` (names, `*.` for sub-domains). */
export function plainHttp(host: string, httpHosts: readonly string[] | undefined): boolean {
  const name = new URL(`https://${host}`).hostname.replace(/^\[(.*)\]$/, "$1");
  return (httpHosts ?? []).some((p) => {
    const pattern = p.trim().toLowerCase();
    return pattern === name || (pattern.startsWith("*.") && name.endsWith(pattern.slice(1)));
  });
}

async function readLimited(response: Response, host: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new LodeError("HTTP_STATUS", `${host} sent a manifest larger than 4 MiB`, {
      details: { registry: host, size: bytes.length },
    });
  }
  return bytes;
}

async function getManifest(
  ctx: RegistryContext,
  ref: OciRef,
  reference: string,
  authorization: string | undefined,
  credentials: () => Promise<OciCredentials | undefined>,
): Promise<FetchedManifest> {
  const url = registryUrl(ref, `manifests/${reference}`, plainHttp(ref.host, ctx.settings.httpHosts));
  const got = await getWithAuth(ctx, url, {
    host: ref.host,
    repository: ref.repository,
    accept: MANIFEST_ACCEPT,
    authorization,
  }, credentials).catch((e) => {
    if (e instanceof LodeError && e.code === "HTTP_NOT_FOUND") {
      throw new LodeError("HTTP_NOT_FOUND", `${ref.host} has no manifest ${ref.repository}:${reference}`, {
        details: { registry: ref.host, repository: ref.repository, reference },
        hint: "Check the repository and tag (skopeo list-tags docker://HOST/REPO lists the tags).",
      });
    }
    throw e;
  });
  const bytes = await readLimited(got.response, ref.host);
  const digest = `sha256:${sha256Bytes(bytes)}`;
  if (reference.startsWith("sha256:") && digest !== reference) {
    throw new LodeError("DIGEST_MISMATCH", `${ref.host} sent a manifest whose digest is not ${reference}`, {
      details: { registry: ref.host, expected: reference, actual: digest },
    });
  }
  let manifest: OciManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes)) as OciManifest;
  } catch {
    throw unsupported(ref.host, "a manifest that is not JSON");
  }
  const header = got.response.headers.get("content-type")?.split(";")[0]?.trim();
  const mediaType = manifest.mediaType ?? header ?? "";
  return { digest, mediaType, manifest, authorization: got.authorization };
}

/** The manifest an index points at for a model: the only one, else the first that is not an attestation. */
function pickFromIndex(host: string, index: OciManifest): OciDescriptor {
  const entries = (index.manifests ?? []).filter((d) =>
    (MANIFEST_TYPES as readonly string[]).includes(d.mediaType) &&
    d.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest"
  );
  const entry = entries.find((d) => d.artifactType?.startsWith("application/vnd.cncf.model.")) ?? entries[0];
  if (!entry) throw unsupported(host, "an image index without an image manifest");
  return entry;
}

/**
 * The manifest `ref` names (its digest when pinned, else its tag), through an index when it is one.
 * `digest` of the result is the digest of what `ref` names (the index's, for an index): the pin.
 */
export async function fetchManifest(
  ctx: RegistryContext,
  ref: OciRef,
  credentials: () => Promise<OciCredentials | undefined>,
): Promise<FetchedManifest & { pin: string }> {
  const top = await getManifest(ctx, ref, ref.digest ?? ref.tag ?? "latest", undefined, credentials);
  if (
    (INDEX_TYPES as readonly string[]).includes(top.mediaType) ||
    (top.manifest.manifests && !top.manifest.layers)
  ) {
    const entry = pickFromIndex(ref.host, top.manifest);
    const inner = await getManifest(ctx, ref, entry.digest, top.authorization, credentials);
    return { ...inner, pin: top.digest };
  }
  return { ...top, pin: top.digest };
}

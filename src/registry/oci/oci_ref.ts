/**
 * OCI references: `oci://HOST[:PORT]/REPO:TAG` and `oci://HOST[:PORT]/REPO@sha256:HEX` (a tag and a
 * digest together: `REPO:TAG@sha256:HEX`, the digest wins). Without either, the tag is `latest`.
 *
 * - `HOST`: a host name or IPv4 address (lower-cased), optionally `:PORT`; IPv6 in brackets.
 * - `REPO`: the distribution spec's repository name — `/`-separated parts of lower-case letters and
 *   digits, joined by `.`, `_`, `__` or `-` runs; at most 255 characters.
 * - `TAG`: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (the spec's rule).
 * - `sha256:HEX`: 64 lower-case hex digits.
 *
 * @example
 * ```ts
 * parseOciBody("oci://ghcr.io/acme/models/qwen:q8", "ghcr.io/acme/models/qwen:q8");
 * // { kind: "oci", host: "ghcr.io", repository: "acme/models/qwen", tag: "q8" }
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";

/** A parsed OCI reference. */
export interface OciRef {
  kind: "oci";
  /** `name[:port]`, as in a URL's `host`. */
  host: string;
  /** The repository path (`acme/models/qwen`). */
  repository: string;
  /** The tag as typed; absent with a digest alone. */
  tag?: string;
  /** `sha256:HEX` of the manifest, when pinned. */
  digest?: string;
}

const REPO_PART = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function invalid(input: string, why: string): LodeError {
  const forms = "oci://HOST[:PORT]/REPO:TAG | oci://HOST[:PORT]/REPO@sha256:HEX";
  return new LodeError("INVALID_REF", `invalid model reference "${input}": ${why}`, {
    details: { ref: input, accepted: [forms] },
    hint: `An OCI reference is ${forms} (docs/oci.md).`,
  });
}

/** Parses `body` (what follows `oci://`) of the reference `input`; `INVALID_REF` saying what is wrong. */
export function parseOciBody(input: string, body: string): OciRef {
  const slash = body.indexOf("/");
  if (slash <= 0) throw invalid(input, "it needs oci://HOST/REPO");
  const host = body.slice(0, slash).toLowerCase();
  if (!HOST.test(host)) throw invalid(input, `"${host}" is not a valid registry host`);
  const port = /:(\d+)$/.exec(host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw invalid(input, `the port ${port} is out of range`);
  }
  let rest = body.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
      throw invalid(input, "the digest after @ must be sha256: followed by 64 lower-case hex digits");
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, `"${tag}" is not a valid tag (letters, digits, ._- up to 128)`);
  }
  const repository = rest;
  if (!repository) throw invalid(input, "the repository is empty (oci://HOST/REPO)");
  if (repository.length > 255) throw invalid(input, "the repository name is longer than 255 characters");
  for (const part of repository.split("/")) {
    if (!REPO_PART.test(part)) {
      throw invalid(input, `"${part}" is not a valid repository part (lower-case letters, digits, . _ -)`);
    }
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  return {
    kind: "oci",
    host,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest ? { digest } : {}),
  };
}

/**
 * The canonical text of an OCI reference.
 *
 * @example
 * ```ts
 * formatOciRef({ kind: "oci", host: "127.0.0.1:5000", repository: "m", tag: "q8" }); // "oci://127.0.0.1:5000/m:q8"
 * ```
 */
export function formatOciRef(ref: OciRef): string {
  return `oci://${ref.host}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${
    ref.digest ? `@${ref.digest}` : ""
  }`;
}

/** `ref` pinned to the manifest `digest` (the tag kept for reading). */
export function pinnedOciRef(ref: OciRef, digest: string): OciRef {
  return { ...ref, digest };
}

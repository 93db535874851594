/**
 * A fake Hugging Face Hub for tests: the Hub's API (model info at a revision, the recursive file
 * tree with LFS SHA-256s, paginated with `Link`) and `resolve` URLs on one HTTPS origin
 * (`127.0.0.1`), answering `302` to a second origin, the "CDN", reached by another host name
 * (`localhost`), which serves the bytes with Range support. Both are {@link startOrigin} origins,
 * so every request is logged (`hub.requests`, `cdn.requests`) with its headers.
 *
 * Gated repos answer `resolve` with 401 (no token) or 403 (a token without access), with the Hub's
 * `X-Error-Code: GatedRepo`; private repos answer the API with 401 `RepoNotFound` unless the token
 * has access.
 *
 * @example
 * ```ts
 * const hub = await startFakeHub(ca, [{ repo: "o/r", files: [{ path: "m-Q4_K_M.gguf", bytes }] }]);
 * // HF_ENDPOINT=hub.endpoint lode pull hf:o/r:Q4_K_M --allow-host localhost --ca-cert …
 * await hub.close();
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { type Origin, type OriginRequest, startOrigin } from "./origin.ts";
import type { RouteResult } from "./origin_routes.ts";
import type { TestCa } from "./test_ca.ts";

const INFO_TEMPLATE = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/hf/model_info.json", import.meta.url)),
) as Record<string, unknown>;

/** One repo of the fake Hub. */
export interface FakeRepo {
  /** `owner/name`. */
  repo: string;
  files: { path: string; bytes: Uint8Array; lfs?: boolean }[];
  /** Branches and tags besides `main` (all point at the one commit). */
  refs?: string[];
  gated?: "auto" | "manual";
  private?: boolean;
  /** Tokens that may read a gated or private repo. */
  tokens?: string[];
  license?: string;
}

/** A running fake Hub. */
export interface FakeHub {
  /** `https://127.0.0.1:PORT`: what `HF_ENDPOINT` points at. */
  endpoint: string;
  /** The CDN's host name (`localhost`), to allow with `--allow-host`. */
  cdnHost: string;
  hub: Origin;
  cdn: Origin;
  /** The commit sha of a repo (every ref points at it). */
  shaOf(repo: string): string;
  close(): Promise<void>;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

function jsonRoute(body: unknown, headers: Record<string, string> = {}): RouteResult {
  return {
    status: 200,
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  };
}

function errorRoute(status: number, code: string, message: string): RouteResult {
  return {
    status,
    body: JSON.stringify({ error: message }),
    headers: { "content-type": "application/json", "x-error-code": code, "x-error-message": message },
  };
}

function tokenOf(req: OriginRequest): string | null {
  const m = /^Bearer (.+)$/.exec(req.headers["authorization"] ?? "");
  return m ? m[1]! : null;
}

/** Starts the Hub (API + resolve) and its CDN, serving `repos`; the tree is paged by `pageSize`. */
export async function startFakeHub(
  ca: TestCa,
  repos: FakeRepo[],
  options: { pageSize?: number } = {},
): Promise<FakeHub> {
  const cdn = await startOrigin({ tls: ca, routes: {}, hostname: "127.0.0.1" });
  const hub = await startOrigin({ tls: ca, routes: {}, hostname: "127.0.0.1" });
  const cdnBase = `https://localhost:${cdn.port}`;
  const shas = new Map<string, string>();
  const pageSize = options.pageSize ?? 1000;
  for (const r of repos) {
    const sha = sha1(`${r.repo}:${r.files.map((f) => f.path).join(",")}`);
    shas.set(r.repo, sha);
    const allowed = (req: OriginRequest) => {
      const t = tokenOf(req);
      return t !== null && (r.tokens ?? []).includes(t);
    };
    const hidden = (req: OriginRequest) => r.private && !allowed(req);
    const info = {
      ...INFO_TEMPLATE,
      id: r.repo,
      modelId: r.repo,
      author: r.repo.split("/")[0],
      sha,
      private: r.private ?? false,
      gated: r.gated ?? false,
      cardData: { license: r.license ?? "mit" },
      siblings: r.files.map((f) => ({ rfilename: f.path })),
    };
    for (const ref of ["main", sha, ...(r.refs ?? [])]) {
      hub.routes[`/api/models/${r.repo}/revision/${encodeURIComponent(ref)}`] = {
        handler: (req) =>
          hidden(req) ? errorRoute(401, "RepoNotFound", "Repository not found") : jsonRoute(info),
      };
    }
    const dirs = [
      ...new Set(r.files.flatMap((f) => {
        const parts = f.path.split("/").slice(0, -1);
        return parts.map((_, i) => parts.slice(0, i + 1).join("/"));
      })),
    ];
    const entries = [
      ...dirs.map((d) => ({ type: "directory", oid: sha1(`dir:${d}`), size: 0, path: d })),
      ...r.files.map((f) => ({
        type: "file",
        oid: sha1(`blob:${f.path}`),
        size: f.bytes.length,
        ...(f.lfs === false ? {} : { lfs: { oid: sha256(f.bytes), size: f.bytes.length, pointerSize: 134 } }),
        path: f.path,
      })),
    ].sort((a, b) => (a.path < b.path ? -1 : 1));
    const treePath = `/api/models/${r.repo}/tree/${sha}`;
    hub.routes[treePath] = {
      handler: (req) => {
        if (hidden(req)) return errorRoute(401, "RepoNotFound", "Repository not found");
        const query = new URL(req.path, "https://x").searchParams;
        const from = Number(query.get("cursor") ?? 0);
        const page = entries.slice(from, from + pageSize);
        const more = from + pageSize < entries.length;
        const link: Record<string, string> = more
          ? { link: `<${hub.url}${treePath}?recursive=true&cursor=${from + pageSize}>; rel="next"` }
          : {};
        return jsonRoute(page, link);
      },
    };
    for (const f of r.files) {
      const hex = sha256(f.bytes);
      cdn.routes[`/repos/${hex.slice(0, 2)}/${hex}`] = { body: f.bytes, etag: `"${hex}"` };
      const encoded = f.path.split("/").map(encodeURIComponent).join("/");
      hub.routes[`/${r.repo}/resolve/${sha}/${encoded}`] = {
        handler: (req) => {
          if (hidden(req)) return errorRoute(401, "RepoNotFound", "Repository not found");
          if (r.gated && !allowed(req)) {
            return tokenOf(req) === null
              ? errorRoute(401, "GatedRepo", "Access to this model is restricted. You must be authenticated.")
              : errorRoute(
                403,
                "GatedRepo",
                "Access to this model is restricted. Visit the model page to ask for access.",
              );
          }
          const signed = `X-Amz-Expires=3600&X-Amz-Signature=${sha1(`${hex}:${Date.now()}`)}`;
          return { redirect: `${cdnBase}/repos/${hex.slice(0, 2)}/${hex}?${signed}`, status: 302 };
        },
      };
    }
  }
  return {
    endpoint: hub.url,
    cdnHost: "localhost",
    hub,
    cdn,
    shaOf: (repo) => shas.get(repo)!,
    async close() {
      await Promise.all([hub.close(), cdn.close()]);
    },
  };
}

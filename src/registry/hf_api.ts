/**
 * The Hugging Face Hub's HTTP API, as far as lode needs it, with zod schemas
 * of its answers (shapes from the Hub's API docs and `huggingface_hub`'s
 * parsers; recorded examples in `tests/fixtures/hf/`):
 *
 * - model info at a revision: `GET {endpoint}/api/models/{repo}/revision/{rev}` → `sha` (the commit a
 *   branch or tag points at), `gated`, `private`, `cardData.license`, `siblings`;
 * - the file tree at a commit: `GET {endpoint}/api/models/{repo}/tree/{sha}?recursive=true` → entries
 *   `{type, path, size, oid, lfs?: {oid, size, pointerSize}}` (`lfs.oid` is the file's SHA-256),
 *   paginated with a `Link: <…>; rel="next"` header;
 * - downloads: `{endpoint}/{repo}/resolve/{sha}/{path}` (the Hub answers 302 to its CDN).
 *
 * Every request goes through {@link RegistryContext.get}; the token (if any) is a header of the API
 * host's requests only.
 * @module
 */
import { z } from "zod";
import { isLodeError, LodeError } from "../errors.ts";
import { checkSchema } from "../schema/schema_error.ts";
import { credentialsFor } from "./credentials.ts";
import type { HfFile } from "./hf_files.ts";
import type { RegistryContext } from "./registry.ts";

export { DEFAULT_HF_ENDPOINT } from "./credentials.ts";

/** `GET /api/models/{repo}/revision/{rev}` (only the fields lode reads; the rest pass through). */
export const HfModelInfo = z.object({
  id: z.string().optional(),
  sha: z.string().regex(/^[0-9a-f]{40}$/, "must be a 40-digit commit sha"),
  private: z.boolean().optional(),
  gated: z.union([z.boolean(), z.string()]).optional(),
  disabled: z.boolean().optional(),
  cardData: z.object({ license: z.union([z.string(), z.array(z.string())]).optional() }).passthrough()
    .nullish(),
  siblings: z.array(z.object({ rfilename: z.string() }).passthrough()).optional(),
}).passthrough();
export type HfModelInfo = z.infer<typeof HfModelInfo>;

/** One entry of `GET /api/models/{repo}/tree/{sha}`. */
export const HfTreeEntry = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().int().nonnegative().optional(),
  oid: z.string().optional(),
  lfs: z.object({ oid: z.string(), size: z.number().int().nonnegative() }).passthrough().nullish(),
}).passthrough();
export type HfTreeEntry = z.infer<typeof HfTreeEntry>;

const MAX_PAGES = 100;

/** What the client needs to know about the caller. */
export interface HfApiOptions {
  /** `HF_ENDPOINT` or the public Hub, no trailing slash. */
  endpoint: string;
  /** `HF_TOKEN`; sent as `Authorization: Bearer` to the endpoint's origin only ({@link credentialsFor}). */
  token?: string;
}

/** A client of the Hub's model API through a {@link RegistryContext}. */
export class HfApi {
  readonly #ctx: RegistryContext;
  readonly endpoint: string;
  readonly #token?: string;

  constructor(ctx: RegistryContext, options: HfApiOptions) {
    this.#ctx = ctx;
    this.endpoint = options.endpoint.replace(/\/+$/, "");
    this.#token = options.token || undefined;
  }

  /** True when a token will be sent. */
  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** The credentials for `url` (the token on the endpoint's own origin only). */
  #authHeaders(url: string): Record<string, string> | undefined {
    return credentialsFor(url, { hfEndpoint: this.endpoint, hfToken: this.#token });
  }

  /** The model's info at `revision` (branch, tag or sha): its commit sha, gating, license. */
  async modelInfo(repo: string, revision: string): Promise<HfModelInfo> {
    const url = `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    const { body } = await this.#getPage(url, { repo, revision, what: "model info" });
    return parse(HfModelInfo, body, url);
  }

  /** Every file of the repo at commit `sha`, with sizes and LFS SHA-256s (pages followed). */
  async listFiles(repo: string, sha: string): Promise<HfFile[]> {
    const files: HfFile[] = [];
    let url: string | null = `${this.endpoint}/api/models/${repo}/tree/${sha}?recursive=true`;
    for (let page = 0; url; page++) {
      if (page >= MAX_PAGES) {
        throw new LodeError("HTTP_STATUS", `the file tree of ${repo} has more than ${MAX_PAGES} pages`, {
          details: { repo, url },
        });
      }
      const { body, next }: { body: unknown; next: string | null } = await this.#getPage(url, {
        repo,
        revision: sha,
        what: "file tree",
      });
      for (const entry of parse(z.array(HfTreeEntry), body, url)) {
        if (entry.type !== "file") continue;
        const sha256 = entry.lfs && /^[0-9a-f]{64}$/.test(entry.lfs.oid) ? entry.lfs.oid : undefined;
        files.push({
          path: entry.path,
          size: entry.lfs?.size ?? entry.size ?? 0,
          ...(sha256 ? { sha256 } : {}),
        });
      }
      url = next;
    }
    return files;
  }

  /** The download URL of `path` at commit `sha`. */
  resolveUrl(repo: string, sha: string, path: string): string {
    return `${this.endpoint}/${repo}/resolve/${sha}/${path.split("/").map(encodeURIComponent).join("/")}`;
  }

  /** The model's page, for messages. */
  pageUrl(repo: string): string {
    return `${this.endpoint}/${repo}`;
  }

  async #getPage(url: string, what: RequestWhat): Promise<{ body: unknown; next: string | null }> {
    let response: Response;
    try {
      response = await this.#ctx.get(url, {
        headers: { accept: "application/json", ...this.#authHeaders(url) },
        signal: this.#ctx.signal,
      });
    } catch (e) {
      throw this.#hubError(e, what);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (e) {
      throw new LodeError("HTTP_STATUS", `${url} did not answer JSON: ${(e as Error).message}`, {
        details: { url, status: response.status },
        hint: "Check HF_ENDPOINT: it must point at a Hugging Face Hub (or a mirror of its API).",
      });
    }
    return { body, next: nextLink(response.headers.get("link"), url) };
  }

  /** Maps a failed Hub request to a typed error that says what to do. */
  #hubError(e: unknown, what: RequestWhat): unknown {
    if (!isLodeError(e)) return e;
    const status = Number(e.details.status);
    const page = this.pageUrl(what.repo);
    const hubCode = typeof e.details.server_error_code === "string" ? e.details.server_error_code : undefined;
    if (e.code === "HTTP_STATUS" && (status === 401 || status === 403)) {
      return accessDenied({
        repo: what.repo,
        status,
        page,
        hasToken: this.hasToken,
        url: e.details.url,
        hubCode,
      });
    }
    if (e.code === "HTTP_NOT_FOUND") {
      const missing = hubCode === "RepoNotFound"
        ? `there is no repo ${what.repo} (or it is private)`
        : hubCode === "RevisionNotFound"
        ? `${what.repo} has no revision "${what.revision}"`
        : `${what.repo} has no revision "${what.revision}" (or no such repo)`;
      return new LodeError(
        "MODEL_NOT_FOUND",
        missing,
        {
          details: { repo: what.repo, revision: what.revision, url: e.details.url },
          hint: `Check the repo name and the revision on ${page}.`,
        },
      );
    }
    return e;
  }
}

/** What a request was for, for messages. */
export interface RequestWhat {
  repo: string;
  revision: string;
  what: string;
}

/** What to do when the Hub refuses `repo` (HTTP 401/403): the hint of every such `ACCESS_DENIED`. */
export function accessHint(o: { repo: string; page: string; hasToken: boolean }): string {
  return o.hasToken
    ? `HF_TOKEN was sent and refused: check that the token is valid and can read ${o.repo}, and accept the model's terms on ${o.page} with the token's account.`
    : `Set HF_TOKEN to a Hugging Face access token (create one at https://huggingface.co/settings/tokens), and accept the model's terms on ${o.page}.`;
}

/** The typed answer to a 401/403 from the Hub's API. */
export function accessDenied(
  o: { repo: string; status: number; page: string; hasToken: boolean; url?: unknown; hubCode?: string },
): LodeError {
  // The Hub says why in X-Error-Code; without it, the status is all there is to go on.
  const why = o.hubCode === "GatedRepo"
    ? o.hasToken ? "it is gated and the token has no access to it yet" : "it is gated"
    : o.hubCode === "RepoNotFound"
    ? "it is private (or does not exist)"
    : o.status === 401
    ? "it is private or gated (or does not exist)"
    : "it is gated and the token has no access to it yet";
  return new LodeError("ACCESS_DENIED", `the Hub refused access to ${o.repo} (HTTP ${o.status}): ${why}`, {
    details: {
      repo: o.repo,
      status: o.status,
      page: o.page,
      token_sent: o.hasToken,
      url: o.url,
      hub_error_code: o.hubCode,
    },
    hint: accessHint(o),
  });
}

function parse<T extends z.ZodTypeAny>(schema: T, body: unknown, url: string): z.infer<T> {
  return checkSchema(schema, body, {
    code: "HTTP_STATUS",
    subject: `the answer of ${url}`,
    details: { url },
    hint: "Check HF_ENDPOINT: it must point at a Hugging Face Hub (or a mirror of its API).",
  });
}

/** The `rel="next"` target of a `Link` header, resolved against `base`. */
export function nextLink(header: string | null, base: string): string | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (m && /\brel="?next"?/i.test(m[2]!)) return new URL(m[1]!, base).href;
  }
  return null;
}

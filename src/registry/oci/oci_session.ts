/**
 * Requests of a push to one registry with its auth: the first request goes without credentials and the
 * 401's challenge says how to get them (oci_auth.ts), asked with the scope `repository:REPO:pull,push`
 * (and `repository:FROM:pull` for each repository a blob may be mounted from). A 401 later on — a Bearer
 * token that expired during a long upload — fetches a new token once and sends the request again; a
 * second 401, or a 403, is `ACCESS_DENIED` naming the registry. Credentials go to the registry's host and
 * its token realm only, and are never in an event or an error.
 *
 * @example
 * ```ts
 * import type { OciRef } from "./oci_ref.ts";
 * import { RegistrySession, type SessionEffects } from "./oci_session.ts";
 * declare const ref: OciRef;
 * declare const effects: SessionEffects;
 * const session = new RegistrySession(ref, effects);
 * const head = await session.send("HEAD", new URL(`https://${ref.host}/v2/${ref.repository}/blobs/sha256:ab`));
 * head.status; // 200 or 404
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { RegistryContext } from "../registry.ts";
import { ociCredentials } from "./docker_config.ts";
import { authorize, ociAccessDenied, parseChallenge } from "./oci_auth.ts";
import type { OciRef } from "./oci_ref.ts";

/** What a session sends requests with. */
export interface SessionEffects {
  /**
   * Sends one request (redirects not followed) through the host policy and the trusted CAs; transport
   * failures as typed errors (`NETWORK`, `TLS`, `INTERRUPTED`). Any HTTP status is returned.
   */
  send(
    method: string,
    url: URL,
    init: { headers: Record<string, string>; body?: Uint8Array | ReadableStream<Uint8Array> },
  ): Promise<Response>;
  /** GETs of the token realm, the settings (credentials), the signal. */
  registry: RegistryContext;
}

/** A request to one registry with its auth (see the module doc). */
export class RegistrySession {
  #authorization: string | undefined;
  /** Repositories the token must also allow pulls from (mount sources). */
  #pullFrom: string[] = [];
  /** Tokens fetched so far (the first, then one per expiry). */
  tokensFetched = 0;

  constructor(readonly ref: Pick<OciRef, "host" | "repository">, readonly effects: SessionEffects) {}

  /** Asks, from the next token on, for pull access to `repository` too (a mount's source). */
  alsoPullFrom(repository: string): void {
    if (repository !== this.ref.repository && !this.#pullFrom.includes(repository)) {
      this.#pullFrom.push(repository);
      // A token already held lacks this scope: the mount's 401 fetches one that has it.
    }
  }

  /** The token scope: push to the target, pull from the mount sources. */
  #scope(): string {
    return [
      `repository:${this.ref.repository}:pull,push`,
      ...this.#pullFrom.map((r) => `repository:${r}:pull`),
    ].join(" ");
  }

  /**
   * Sends one request; `body` is bytes, or a function that makes a new stream of them for each attempt
   * (a request answered 401 is sent again).
   */
  async send(
    method: string,
    url: URL,
    headers: Record<string, string> = {},
    body?: Uint8Array | (() => ReadableStream<Uint8Array>),
  ): Promise<Response> {
    const { host, repository } = this.ref;
    const go = () =>
      this.effects.send(method, url, {
        headers: { ...headers, ...(this.#authorization ? { authorization: this.#authorization } : {}) },
        body: typeof body === "function" ? body() : body,
      });
    let response = await go();
    if (response.status === 401) {
      // Without credentials yet, or with a token that expired: answer the challenge once, then again.
      await response.body?.cancel();
      const challenge = parseChallenge(response.headers.get("www-authenticate") ?? undefined);
      const had = this.#authorization !== undefined;
      if (had && challenge?.scheme !== "bearer") throw ociAccessDenied(host, 401, true);
      const scoped = challenge
        ? { ...challenge, params: { ...challenge.params, scope: this.#scope() } }
        : null;
      const creds = await ociCredentials(host, this.effects.registry.settings);
      this.#authorization = await authorize(this.effects.registry, host, repository, scoped, creds);
      this.tokensFetched++;
      response = await go();
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw ociAccessDenied(host, response.status, this.#authorization !== undefined);
    }
    return response;
  }
}

/** `HTTP_STATUS`: the registry refused `what`; its answer (cut to 500 characters) in the details. */
export async function refused(response: Response, host: string, what: string): Promise<LodeError> {
  const text = (await response.text().catch(() => "")).slice(0, 500);
  return new LodeError("HTTP_STATUS", `${host} refused ${what} (HTTP ${response.status})`, {
    details: { registry: host, status: response.status, body: text },
    hint: "The registry's answer is in details.body; check the repository name and your push rights.",
  });
}

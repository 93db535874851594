/**
 * The OCI registry: `oci://HOST[:PORT]/REPO:TAG` and `oci://HOST[:PORT]/REPO@sha256:HEX` resolved into a
 * pinned plan — the manifest (through an index) fetched with the registry's auth ({@link getWithAuth}),
 * its digest recorded as the plan's revision, each layer a blob URL with its digest as SHA-256. It
 * returns descriptors only: the download core fetches and verifies the blobs, with the registry's
 * `Authorization` sent to the registry's origin only (each file's `headers`), never to a storage host it
 * redirects to. docs/oci.md describes what is accepted.
 *
 * @example
 * ```ts
 * import type { RegistryContext } from "../registry.ts";
 * import { parseRef } from "../reference.ts";
 * declare const ctx: RegistryContext;
 * const plan = await ociRegistry.resolve(parseRef("oci://127.0.0.1:5000/models/stories:260k"), ctx);
 * plan.source.revision; // "sha256:…" (the manifest's digest)
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import { parseSha256Flag } from "../reference.ts";
import type { ModelPlan, Registry } from "../registry.ts";
import { ociCredentials } from "./docker_config.ts";
import type { ModelStore } from "../../store/model_store.ts";
import type { RegistryContext } from "../registry.ts";
import { getWithAuth, ociAccessHint } from "./oci_auth.ts";
import { fetchManifest, plainHttp, registryUrl } from "./oci_manifest.ts";
import { MANIFEST_ACCEPT } from "./media_types.ts";
import { planFromManifest } from "./oci_plan.ts";

/** `plan` of the OCI registry with the hint its 401/403 gets; plans of other registries pass unchanged. */
export function withOciHint(plan: ModelPlan): ModelPlan {
  if (plan.source.registry !== "oci" || plan.accessHint) return plan;
  const host = plan.source.repo.slice(0, plan.source.repo.indexOf("/"));
  return { ...plan, accessHint: ociAccessHint(host) };
}

/**
 * A plan of the OCI registry read back from a lockfile or a manifest (no credentials in it) with this
 * run's `Authorization` for the registry's host: when a blob it names is missing from the store, the
 * pinned manifest (`source.revision`) is asked for with the registry's auth, and the header that worked
 * goes to the files on that host. Anything else passes unchanged, without a request.
 */
export async function withOciAccess(
  plan: ModelPlan,
  store: ModelStore,
  registryContext: (hosts: string[]) => Promise<RegistryContext>,
): Promise<ModelPlan> {
  if (plan.source.registry !== "oci" || plan.files.some((f) => f.headers)) return plan;
  const slash = plan.source.repo.indexOf("/");
  const host = plan.source.repo.slice(0, slash);
  const repository = plan.source.repo.slice(slash + 1);
  const present = await Promise.all(plan.files.map((f) => (f.sha256 ? store.hasBlob(f.sha256) : false)));
  if (present.every(Boolean) || !/^sha256:[0-9a-f]{64}$/.test(plan.source.revision)) return plan;
  const ctx = await registryContext([host]);
  const ref = { host, repository };
  const http = new URL(plan.files[0]!.url).protocol === "http:";
  const got = await getWithAuth(ctx, registryUrl(ref, `manifests/${plan.source.revision}`, http), {
    host,
    repository,
    accept: MANIFEST_ACCEPT,
  }, () => ociCredentials(host, ctx.settings));
  await got.response.body?.cancel();
  return withAuthorization(plan, got.authorization);
}

/**
 * `plan` with `authorization` on each file (its URL is on the registry's origin): the download core sends
 * it to that origin only, never to a storage host a blob redirects to, and never writes it anywhere.
 */
function withAuthorization(plan: ModelPlan, authorization: string | undefined): ModelPlan {
  if (!authorization) return plan;
  return { ...plan, files: plan.files.map((f) => ({ ...f, headers: { ...f.headers, authorization } })) };
}

/** `oci://` references. */
export const ociRegistry: Registry = {
  id: "oci",
  claims: (ref) => ref.kind === "oci",
  hostsFor: (ref) => (ref.kind === "oci" ? [ref.host] : []),
  async resolve(ref, ctx, options): Promise<ModelPlan> {
    if (ref.kind !== "oci") throw new LodeError("INTERNAL", "ociRegistry given a non-oci reference");
    let creds: ReturnType<typeof ociCredentials> | undefined;
    const credentials = () => (creds ??= ociCredentials(ref.host, ctx.settings));
    const fetched = await fetchManifest(ctx, ref, credentials);
    const plan = planFromManifest(ref, fetched.pin, fetched.manifest, {
      name: options?.name,
      http: plainHttp(ref.host, ctx.settings.httpHosts),
    });
    const flag = parseSha256Flag(options?.sha256);
    if (flag !== undefined && plan.files[0]!.sha256 !== flag) {
      throw new LodeError(
        "USAGE",
        `--sha256 disagrees with the registry's digest of ${plan.files[0]!.filename}`,
        {
          details: { flag, registry: plan.files[0]!.sha256 },
        },
      );
    }
    const auth = fetched.authorization;
    const hinted = withOciHint(plan);
    return withAuthorization(hinted, auth);
  },
};

/**
 * A pull from a real registry (Debian's docker-registry, TLS, the tests' Bearer token server) whose first
 * token expires between the manifest and the blob download: the download's 401 gets a new token (the
 * pinned manifest asked for again with the registry's auth) and the pull goes on. In process, through
 * src/registry/pull_reference.ts with effects built by hand (as tests/pull_reference_test.ts does).
 */
import assert from "node:assert/strict";
import { HostPolicy } from "../src/download/host_policy.ts";
import { openGet } from "../src/download/http_get.ts";
import { type PullEffects, pullReference } from "../src/registry/pull_reference.ts";
import { ModelStore } from "../src/store/model_store.ts";
import { OCI_USER, ociRegistryMissing } from "./support/oci_registry.ts";
import { pushStories, withRegistry } from "./support/oci_world.ts";
import { STORIES_SHA } from "./support/stories_lockfile.ts";

const missing = await ociRegistryMissing();
if (missing) console.log(`skipped: oci_token_expiry_test.ts: ${missing}`);

Deno.test({
  name:
    "oci pull: a Bearer token expired before the blob download is fetched again once and the pull completes",
  ignore: missing !== null,
  fn: () =>
    // The first token expires (with distribution's leeway of about a minute) some 8 s after it is minted.
    withRegistry(
      "token",
      async ({ reg, dir }) => {
        await pushStories(reg, "models/stories", "v1", "modelpack");
        const store = await ModelStore.open(`${dir}/pull-store`);
        const client = Deno.createHttpClient({ caCerts: [reg.ca.caCertPem] });
        const settings = { ociUsername: OCI_USER.username, ociPassword: OCI_USER.password };
        const base = new HostPolicy({});
        const clientFor = () => client;
        const started = Date.now();
        let contexts = 0;
        const effects: PullEffects = {
          settings,
          registryContext: (hosts) => {
            const policy = base.with(hosts.map((h) => `https://${h}/`));
            return Promise.resolve({
              settings,
              store,
              get: async (url, init) => (await openGet(url, { policy, clientFor, ...init })).response,
            });
          },
          // The download starts once the first token has expired.
          pullContext: async (urls) => {
            if (++contexts === 1) {
              await new Promise((r) => setTimeout(r, Math.max(0, started + 12_000 - Date.now())));
            }
            return { store, policy: base.with(urls), clientFor, connections: 1 };
          },
        };
        try {
          const pulled = await pullReference(`oci://${reg.host}/models/stories:v1`, effects, { name: "s" });
          assert.equal(pulled.sha256, STORIES_SHA);
          assert.equal(reg.tokenRequests.length, 2); // the first, and the one after the expiry
        } finally {
          client.close();
        }
      },
      false,
      { tokenExpiry: (n, now) => (n === 1 ? now - 50 : now + 600) },
    ),
});

/**
 * The one resolve-then-pull task (src/registry/pull_reference.ts) in process, against a fake Hub
 * on loopback HTTPS: the plan is told before any byte, HF_TOKEN goes to the Hub's origin only
 * (API, resolve) and never to its CDN, and a plan that carries no credentials (a lock entry) gets
 * them from the settings.
 */
import assert from "node:assert/strict";
import { HostPolicy } from "../src/download/host_policy.ts";
import { openGet } from "../src/download/http_get.ts";
import type { PullContext } from "../src/download/pull_context.ts";
import { type PullEffects, pullReference, pullResolvedPlan } from "../src/registry/pull_reference.ts";
import type { ModelPlan, RegistrySettings } from "../src/registry/registry.ts";
import { ModelStore } from "../src/store/model_store.ts";
import { startFakeHub } from "./support/fake_hub.ts";
import { ggufWith } from "./support/gguf_bytes.ts";
import { makeTestCa } from "./support/test_ca.ts";
import { withTempDir } from "./support/temp_dir.ts";

const REPO = "o/private";
const TOKEN = "hf_test_token";
const MODEL = ggufWith(new Uint8Array(4096).map((_, i) => i % 251));

/** A command's effects, built by hand: the fake Hub's CA trusted, its CDN host allowed. */
function effects(store: ModelStore, client: Deno.HttpClient, settings: RegistrySettings, cdnHost: string) {
  const base = new HostPolicy({ allowHosts: [cdnHost] });
  const clientFor = () => client;
  const contexts: PullContext[] = [];
  const pulls: PullEffects = {
    settings,
    registryContext: (hosts) => {
      const policy = base.with(hosts.map((h) => `https://${h}/`));
      return Promise.resolve({
        settings,
        store,
        get: async (url, init) => (await openGet(url, { policy, clientFor, ...init })).response,
      });
    },
    pullContext: (urls) => {
      const context = { store, policy: base.with(urls), clientFor, connections: 1 };
      contexts.push(context);
      return Promise.resolve(context);
    },
  };
  return { pulls, contexts };
}

Deno.test("pullReference: resolved, told before any byte, pulled; HF_TOKEN to the Hub's origin only", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const hub = await startFakeHub(ca, [{
      repo: REPO,
      private: true,
      tokens: [TOKEN],
      files: [{ path: "m-Q4_K_M.gguf", bytes: MODEL }],
    }]);
    const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
    try {
      const store = await ModelStore.open(`${dir}/store`);
      const settings = { hfEndpoint: hub.endpoint, hfToken: TOKEN };
      const { pulls } = effects(store, client, settings, hub.cdnHost);
      let cdnAtPlan = -1;
      const pulled = await pullReference(`hf:${REPO}:Q4_K_M`, pulls, {
        onPlan: () => cdnAtPlan = hub.cdn.requests.length,
      });
      assert.equal(cdnAtPlan, 0, "the plan is told before any byte is fetched");
      assert.equal(pulled.name, "m-Q4_K_M");
      assert.equal(pulled.plan.source.revision, hub.shaOf(REPO));
      assert.equal(pulled.cached, false);
      assert.ok(pulled.pinned);
      assert.deepEqual(await Deno.readFile(pulled.path), MODEL);
      assert.ok(hub.hub.requests.length >= 3, "model info, tree, resolve");
      assert.ok(hub.hub.requests.every((q) => q.headers.authorization === `Bearer ${TOKEN}`));
      assert.ok(hub.cdn.requests.length >= 1);
      assert.ok(hub.cdn.requests.every((q) => q.headers.authorization === undefined), "never to the CDN");

      // A lock entry's plan carries no credentials: the settings of this run add them, and the
      // store already holds the bytes.
      const bare: ModelPlan = {
        ...pulled.plan,
        files: pulled.plan.files.map(({ headers: _headers, ...f }) => f),
        allowHosts: [],
      };
      const again = await pullResolvedPlan(bare, pulls);
      assert.equal(again.cached, true);
      assert.equal(again.sha256, pulled.sha256);
    } finally {
      client.close();
      await hub.close();
    }
  });
});

Deno.test("pullResolvedPlan: a plan without credentials (a lock entry) gets this run's HF_TOKEN; without one, ACCESS_DENIED says to set it", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const hub = await startFakeHub(ca, [{
      repo: "o/gated",
      gated: "manual",
      tokens: [TOKEN],
      files: [{ path: "g-Q4_K_M.gguf", bytes: MODEL }],
    }]);
    const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
    try {
      const store = await ModelStore.open(`${dir}/store`);
      const { pulls } = effects(store, client, { hfEndpoint: hub.endpoint }, hub.cdnHost);
      const sha = hub.shaOf("o/gated");
      const plan: ModelPlan = {
        name: "g",
        reference: `hf:o/gated:Q4_K_M@${sha}`,
        source: { registry: "huggingface", repo: "o/gated", revision: sha },
        files: [{
          role: "model",
          filename: "g-Q4_K_M.gguf",
          url: `${hub.endpoint}/o/gated/resolve/${sha}/g-Q4_K_M.gguf`,
        }],
      };
      await assert.rejects(
        () => pullResolvedPlan(plan, pulls),
        (e: Error & { code?: string; hint?: string }) =>
          e.code === "ACCESS_DENIED" && /HF_TOKEN/.test(e.hint ?? ""),
      );
      assert.ok(hub.hub.requests.every((q) => q.headers.authorization === undefined));
      await assert.rejects(() => store.getManifest("g"));

      const withToken = effects(store, client, { hfEndpoint: hub.endpoint, hfToken: TOKEN }, hub.cdnHost);
      const pulled = await pullResolvedPlan(plan, withToken.pulls);
      assert.deepEqual(await Deno.readFile(pulled.path), MODEL);
      const resolves = hub.hub.requests.filter((q) => q.path.includes("/resolve/"));
      assert.equal(resolves.at(-1)?.headers.authorization, `Bearer ${TOKEN}`);
      assert.ok(hub.cdn.requests.length >= 1);
      assert.ok(hub.cdn.requests.every((q) => q.headers.authorization === undefined), "never to the CDN");
    } finally {
      client.close();
      await hub.close();
    }
  });
});

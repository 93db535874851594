import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { HostPolicy } from "../download/host_policy.ts";
import { ModelStore } from "../store/mod.ts";
import { HfModelInfo, HfTreeEntry, nextLink } from "./hf_api.ts";
import { HF_CDN_HOSTS, huggingFaceRegistry } from "./huggingface.ts";
import { planUrls } from "./pull_plan.ts";
import { parseRef } from "./reference.ts";
import type { RegistryContext, RegistrySettings } from "./registry.ts";
import { resolveModel } from "./resolve_model.ts";

const FIXTURES = new URL("../../tests/fixtures/hf/", import.meta.url);
const INFO = JSON.parse(await Deno.readTextFile(new URL("model_info.json", FIXTURES)));
const TREE = JSON.parse(await Deno.readTextFile(new URL("tree.json", FIXTURES))) as Record<string, unknown>[];
const SHA = INFO.sha as string;
const REPO = "Qwen/Qwen3-0.6B-GGUF";
const HUB = "https://huggingface.co";

interface Seen {
  url: string;
  headers: Record<string, string>;
}

/** A registry context whose `get` answers from `routes` (URL → Response factory) and logs requests. */
async function context(
  routes: Record<string, () => Response>,
  settings: RegistrySettings = {},
): Promise<{ ctx: RegistryContext; seen: Seen[] }> {
  const seen: Seen[] = [];
  const ctx: RegistryContext = {
    settings,
    store: await ModelStore.open(await Deno.makeTempDir()),
    get(url, init) {
      seen.push({ url: String(url), headers: init?.headers ?? {} });
      const route = routes[String(url)];
      if (!route) {
        return Promise.reject(
          new LodeError("HTTP_NOT_FOUND", `${url} answered HTTP 404`, {
            details: { url: String(url), status: 404 },
          }),
        );
      }
      const response = route();
      if (!response.ok) {
        return Promise.reject(
          new LodeError("HTTP_STATUS", `${url} answered HTTP ${response.status}`, {
            details: { url: String(url), status: response.status },
          }),
        );
      }
      return Promise.resolve(response);
    },
  };
  return { ctx, seen };
}

const json = (body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify(body), { headers: { "content-type": "application/json", ...headers } });

function hubRoutes(base = HUB, info: unknown = INFO): Record<string, () => Response> {
  return {
    [`${base}/api/models/${REPO}/revision/main`]: json(info),
    [`${base}/api/models/${REPO}/tree/${SHA}?recursive=true`]: json(TREE),
  };
}

function code(c: string) {
  return (e: unknown) => e instanceof LodeError && e.code === c;
}

Deno.test("the recorded response shapes parse", () => {
  const info = HfModelInfo.parse(INFO);
  assert.equal(info.sha, SHA);
  assert.equal(info.cardData?.license, "apache-2.0");
  const tree = TREE.map((e) => HfTreeEntry.parse(e));
  assert.equal(tree.filter((e) => e.type === "file" && e.lfs).length, 4);
});

Deno.test("hf:OWNER/REPO: Q4_K_M by default, pinned to the commit sha, mmproj optional, Hub CDN allowed", async () => {
  const { ctx, seen } = await context(hubRoutes());
  const plan = await resolveModel(parseRef(`hf:${REPO}`), ctx);
  assert.equal(plan.name, "Qwen3-0.6B-Q4_K_M");
  assert.equal(plan.reference, `hf:${REPO}`);
  assert.deepEqual(plan.source, { registry: "huggingface", repo: REPO, revision: SHA });
  assert.equal(plan.license, "apache-2.0");
  assert.deepEqual(plan.files, [
    {
      role: "model",
      filename: "Qwen3-0.6B-Q4_K_M.gguf",
      url: `${HUB}/${REPO}/resolve/${SHA}/Qwen3-0.6B-Q4_K_M.gguf`,
      sha256: "1c3d9e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d",
      sizeBytes: 484220320,
    },
    {
      role: "mmproj",
      filename: "mmproj-Qwen3-0.6B-F16.gguf",
      url: `${HUB}/${REPO}/resolve/${SHA}/mmproj-Qwen3-0.6B-F16.gguf`,
      sha256: "2d4e0f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e",
      sizeBytes: 120143040,
      optional: true,
    },
  ]);
  assert.deepEqual(plan.allowHosts, HF_CDN_HOSTS);
  assert.match(plan.accessHint ?? "", /HF_TOKEN/);
  // No token: no Authorization header anywhere.
  assert.ok(seen.every((s) => !("authorization" in s.headers)));
  // The plan's hosts let the Hub's CDN redirects through, and nothing else.
  const policy = new HostPolicy().with(planUrls(plan));
  policy.check(new URL("https://cdn-lfs-us-1.hf.co/repos/x"));
  policy.check(new URL("https://cas-bridge.xethub.hf.co/x"));
  policy.check(new URL("https://huggingface.co/x"));
  assert.throws(() => policy.check(new URL("https://evil.example/x")), code("HOST_NOT_ALLOWED"));
  assert.throws(() => policy.check(new URL("https://hf.co.evil.example/x")), code("HOST_NOT_ALLOWED"));
});

Deno.test("a quant with split shards: every shard, role shard, one store name", async () => {
  const { ctx } = await context(hubRoutes());
  const plan = await resolveModel(parseRef(`hf.co/${REPO}:q8_0`), ctx);
  assert.equal(plan.name, "Qwen3-0.6B-Q8_0");
  assert.equal(plan.reference, `hf:${REPO}:Q8_0`);
  assert.deepEqual(plan.files.map((f) => [f.role, f.filename, f.optional ?? false]), [
    ["shard", "Q8_0/Qwen3-0.6B-Q8_0-00001-of-00002.gguf", false],
    ["shard", "Q8_0/Qwen3-0.6B-Q8_0-00002-of-00002.gguf", false],
    ["mmproj", "mmproj-Qwen3-0.6B-F16.gguf", true],
  ]);
  assert.equal(plan.files[0]!.url, `${HUB}/${REPO}/resolve/${SHA}/Q8_0/Qwen3-0.6B-Q8_0-00001-of-00002.gguf`);
});

Deno.test("a path form takes that file only; --name and --sha256 apply", async () => {
  const { ctx } = await context(hubRoutes());
  const plan = await resolveModel(parseRef(`hf:${REPO}/Qwen3-0.6B-Q4_K_M.gguf`), ctx, { name: "qwen" });
  assert.equal(plan.name, "qwen");
  assert.equal(plan.files.length, 1);
  const sha = plan.files[0]!.sha256!;
  await resolveModel(parseRef(`hf:${REPO}/Qwen3-0.6B-Q4_K_M.gguf`), ctx, { sha256: sha.toUpperCase() });
  await assert.rejects(
    () => resolveModel(parseRef(`hf:${REPO}/Qwen3-0.6B-Q4_K_M.gguf`), ctx, { sha256: "0".repeat(64) }),
    code("USAGE"),
  );
  await assert.rejects(() => resolveModel(parseRef(`hf:${REPO}:Q8_0`), ctx, { sha256: sha }), code("USAGE"));
});

Deno.test("a revision is URL-encoded in the API path and resolved to the commit sha", async () => {
  const { ctx, seen } = await context({
    [`${HUB}/api/models/${REPO}/revision/refs%2Fpr%2F3`]: json(INFO),
    [`${HUB}/api/models/${REPO}/tree/${SHA}?recursive=true`]: json(TREE),
  });
  const plan = await resolveModel(parseRef(`hf:${REPO}:Q4_K_M@refs/pr/3`), ctx);
  assert.equal(plan.source.revision, SHA);
  assert.equal(plan.reference, `hf:${REPO}:Q4_K_M@refs/pr/3`);
  assert.ok(plan.files.every((f) => f.url.includes(`/resolve/${SHA}/`)));
  assert.equal(seen.length, 2);
});

Deno.test("HF_TOKEN goes to the API and the plan's Hub URLs as a Bearer header; HF_ENDPOINT is a mirror", async () => {
  const mirror = "https://mirror.example:8443";
  const { ctx, seen } = await context(hubRoutes(mirror), {
    hfToken: "hf_secret",
    hfEndpoint: `${mirror}/`,
  });
  assert.deepEqual(huggingFaceRegistry.hostsFor!(parseRef(`hf:${REPO}`), ctx.settings), ["mirror.example"]);
  const plan = await resolveModel(parseRef(`hf:${REPO}`), ctx);
  assert.ok(seen.every((s) => s.url.startsWith(`${mirror}/`)));
  assert.ok(seen.every((s) => s.headers.authorization === "Bearer hf_secret"));
  assert.ok(plan.files.every((f) => f.url.startsWith(`${mirror}/${REPO}/resolve/`)));
  assert.ok(plan.files.every((f) => f.headers?.authorization === "Bearer hf_secret"));
  // A mirror's CDN is not guessed: the user allows it with --allow-host.
  assert.deepEqual(plan.allowHosts, []);
  assert.match(plan.accessHint ?? "", /was sent and refused/);
});

Deno.test("401 and 403 from the Hub are ACCESS_DENIED saying what to do; 404 is MODEL_NOT_FOUND", async () => {
  for (
    const [status, settings, hint] of [
      [401, {}, /Set HF_TOKEN/],
      [403, { hfToken: "hf_secret403" }, /was sent and refused.*accept the model's terms/],
    ] as const
  ) {
    const { ctx } = await context({
      [`${HUB}/api/models/${REPO}/revision/main`]: () => new Response("{}", { status }),
    }, settings);
    const e = await resolveModel(parseRef(`hf:${REPO}`), ctx).catch((e) => e);
    assert.ok(e instanceof LodeError && e.code === "ACCESS_DENIED", String(e));
    assert.equal(e.exitCode, 6);
    assert.match(e.message, new RegExp(`HTTP ${status}`));
    assert.match(e.hint, hint);
    assert.match(e.hint, /https:\/\/huggingface\.co\/Qwen\/Qwen3-0\.6B-GGUF/);
    assert.ok(!JSON.stringify(e.toJSON()).includes("hf_secret403"));
  }
  const { ctx } = await context({});
  await assert.rejects(() => resolveModel(parseRef(`hf:${REPO}@nope`), ctx), code("MODEL_NOT_FOUND"));
});

Deno.test("a gated repo without HF_TOKEN fails before listing files", async () => {
  const { ctx, seen } = await context(hubRoutes(HUB, { ...INFO, gated: "manual" }));
  const e = await resolveModel(parseRef(`hf:${REPO}`), ctx).catch((e) => e);
  assert.ok(e instanceof LodeError && e.code === "ACCESS_DENIED");
  assert.match(e.hint, /Set HF_TOKEN.*accept the model's terms/);
  assert.equal(seen.length, 1);
});

Deno.test("the file tree is followed across Link pages", async () => {
  const next = `${HUB}/api/models/${REPO}/tree/${SHA}?recursive=true&cursor=abc`;
  const { ctx, seen } = await context({
    [`${HUB}/api/models/${REPO}/revision/main`]: json(INFO),
    [`${HUB}/api/models/${REPO}/tree/${SHA}?recursive=true`]: json(TREE.slice(0, 4), {
      link: `<${next}>; rel="next"`,
    }),
    [next]: json(TREE.slice(4)),
  });
  const plan = await resolveModel(parseRef(`hf:${REPO}:Q4_K_M`), ctx);
  assert.equal(plan.files[0]!.filename, "Qwen3-0.6B-Q4_K_M.gguf");
  assert.equal(seen.length, 3);
  assert.equal(
    nextLink(`<https://a/x?p=2>; rel="next", <https://a/x?p=9>; rel="last"`, HUB),
    "https://a/x?p=2",
  );
  assert.equal(nextLink(`</x?p=2>; rel=next`, HUB), `${HUB}/x?p=2`);
  assert.equal(nextLink(`<https://a/x>; rel="prev"`, HUB), null);
  assert.equal(nextLink(null, HUB), null);
});

Deno.test("an endpoint that does not speak the Hub's API is a clear error", async () => {
  const { ctx } = await context({
    [`${HUB}/api/models/${REPO}/revision/main`]: () => new Response("<html>"),
  });
  const e = await resolveModel(parseRef(`hf:${REPO}`), ctx).catch((e) => e);
  assert.ok(e instanceof LodeError && e.code === "HTTP_STATUS");
  assert.match(e.hint, /HF_ENDPOINT/);
  const bad = await context(hubRoutes(HUB, { ...INFO, sha: "main" }));
  const sha = await resolveModel(parseRef(`hf:${REPO}`), bad.ctx).catch((e) => e);
  assert.ok(sha instanceof LodeError && sha.code === "HTTP_STATUS", String(sha));
  assert.match(
    sha.message,
    /^the answer of https:\/\/\S+ is invalid at sha: must be a 40-digit commit sha, found "main"$/,
  );
  assert.equal(sha.details.field, "sha");
  assert.deepEqual((sha.details.issues as { received: string }[]).map((i) => i.received), ['"main"']);
  const world = await context({}, { hfEndpoint: "not a url" });
  await assert.rejects(() => resolveModel(parseRef(`hf:${REPO}`), world.ctx), code("USAGE"));
});

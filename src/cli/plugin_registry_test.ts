import assert from "node:assert/strict";
import { registryConformance } from "../plugin/conformance/registry_conformance.ts";
import { PluginDriver } from "../plugin/plugin_driver.ts";
import { parseRef } from "../registry/reference.ts";
import type { RegistryContext } from "../registry/registry.ts";
import { ModelStore } from "../store/model_store.ts";
import { huggingFaceRegistry } from "../registry/huggingface.ts";
import { storeRegistry, urlRegistry } from "../registry/url_registry.ts";
import { createContext } from "./context.ts";
import { Output } from "./output.ts";
import {
  builtinDriver,
  builtinPlugins,
  descriptorFromPlan,
  isBuiltinScheme,
  planFromDescriptor,
  pluginRegistry,
  registryCredentials,
  registryOf,
} from "./plugin_registry.ts";

const SHA = "ab".repeat(32);

async function withContext(fn: (ctx: RegistryContext) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-plugreg-" });
  try {
    const store = await ModelStore.open(dir);
    await fn({
      store,
      settings: {},
      get: () => Promise.reject(new Error("no network in this test")),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the built-in registries pass the registry conformance suite through the driver", async () => {
  await withContext(async (ctx) => {
    const driver = new PluginDriver();
    for (const p of builtinPlugins(() => Promise.resolve(ctx), {})) driver.register(p);
    const byName = (name: string) => driver.plugins.find((p) => p.name === name)!;
    const cases = [
      { name: "https", refs: [`https://h.example/m.gguf#sha256=${SHA}`], badRefs: ["https://h.example/"] },
      { name: "store", refs: undefined, badRefs: ["store:\u0001bad"] },
      { name: "huggingface", refs: undefined, badRefs: ["hf:bad//repo"] },
    ];
    for (const c of cases) {
      const checks = await registryConformance(byName(c.name), { refs: c.refs, badRefs: c.badRefs });
      assert.deepEqual(checks.filter((x) => !x.ok), [], c.name);
    }
    assert.equal((await driver.resolve(`https://h.example/m.gguf#sha256=${SHA}`)).files[0]!.sha256, SHA);
  });
});

Deno.test("a plan descriptor and a model plan convert both ways, mirrors after the first URL", () => {
  const descriptor = {
    name: "tiny",
    reference: "mirror:tiny",
    source: { registry: "mirror", repo: "", revision: "r1" },
    files: [{
      role: "model",
      filename: "tiny.gguf",
      urls: ["https://a.test/t.gguf", "https://b.test/t.gguf"],
      sha256: SHA,
      sizeBytes: 5,
    }],
  };
  const plan = planFromDescriptor(descriptor);
  assert.equal(plan.files[0]!.url, "https://a.test/t.gguf");
  assert.deepEqual(plan.files[0]!.mirrors, ["https://b.test/t.gguf"]);
  assert.deepEqual(descriptorFromPlan(plan), descriptor);
});

Deno.test("a registry plugin's credentials go to the hosts it names only", async () => {
  await withContext(async (ctx) => {
    const driver = new PluginDriver();
    driver.register({
      name: "table",
      registry: {
        schemes: ["table"],
        resolve: (ref) =>
          Promise.resolve({
            name: ref.rest,
            reference: ref.reference,
            source: { registry: "table", repo: "", revision: "" },
            files: [
              {
                role: "model",
                filename: "a.gguf",
                urls: ["https://a.test/a.gguf"],
                sha256: SHA,
                sizeBytes: 1,
              },
              {
                role: "shard",
                filename: "b.gguf",
                urls: ["https://b.test:8443/b.gguf", "https://a.test/b.gguf"],
                sha256: SHA,
                sizeBytes: 1,
              },
            ],
          }),
        credentials: (host) =>
          Promise.resolve(host === "a.test" ? { headers: { authorization: "Bearer t" } } : null),
      },
    });
    const registry = pluginRegistry(driver, driver.registryFor("table")!);
    const ref = parseRef("table:tiny", { schemes: registry.schemes });
    assert.deepEqual(ref, { kind: "plugin", scheme: "table", body: "tiny", reference: "table:tiny" });
    assert.equal(registry.claims(ref), true);
    const plan = await registry.resolve(ref, ctx, { name: "renamed" });
    assert.equal(plan.name, "renamed");
    assert.deepEqual(plan.files.map((f) => f.hostHeaders), [
      { "a.test": { authorization: "Bearer t" } },
      { "a.test": { authorization: "Bearer t" } },
    ]);
  });
});

Deno.test("prepare asks registry.resolve once, before the context exists; resolve takes that answer", async () => {
  await withContext(async (ctx) => {
    const driver = new PluginDriver();
    const asked: string[] = [];
    driver.register({
      name: "table",
      registry: {
        schemes: ["table"],
        resolve: (ref) => {
          asked.push(ref.reference);
          return Promise.resolve({
            name: ref.rest,
            reference: ref.reference,
            source: { registry: "table", repo: "", revision: "" },
            files: [{
              role: "model",
              filename: "a.gguf",
              urls: ["https://a.test/a.gguf"],
              sha256: SHA,
              sizeBytes: 1,
            }],
          });
        },
      },
    });
    const registry = pluginRegistry(driver, driver.registryFor("table")!);
    const ref = parseRef("table:tiny", { schemes: registry.schemes });
    registry.prepare!(ref);
    registry.prepare!(ref);
    assert.deepEqual(asked, ["table:tiny"]);
    assert.equal((await registry.resolve(ref, ctx)).files[0]!.sha256, SHA);
    assert.deepEqual(asked, ["table:tiny"]);
    // Taken once: a later resolve of the same reference asks again.
    await registry.resolve(ref, ctx);
    assert.deepEqual(asked, ["table:tiny", "table:tiny"]);
  });
});

Deno.test("the built-ins on the driver: each scheme's one lookup gives the built-in's own registry; the Hub's credentials for its host only", async () => {
  await withContext(async (ctx) => {
    const driver = builtinDriver({
      registryContext: () => Promise.resolve(ctx),
      settings: { hfToken: "hf_x" },
    });
    const cases = { hf: huggingFaceRegistry, https: urlRegistry, http: urlRegistry, store: storeRegistry };
    for (const [scheme, registry] of Object.entries(cases)) {
      assert.equal(registryOf(driver, driver.registryFor(scheme)!), registry, scheme);
    }
    assert.equal(driver.registryFor("mirror"), undefined);
    assert.deepEqual(await registryCredentials(driver, "huggingface", "huggingface.co"), {
      authorization: "Bearer hf_x",
    });
    assert.equal(await registryCredentials(driver, "huggingface", "cdn-lfs.hf.co"), null);
    assert.equal(await registryCredentials(driver, "https", "huggingface.co"), null);
    assert.equal(await registryCredentials(driver, "nobody", "huggingface.co"), null);
    for (const scheme of ["hf", "https", "oci", "file", "store"]) assert.equal(isBuiltinScheme(scheme), true);
    assert.equal(isBuiltinScheme("mirror"), false);
  });
});

Deno.test("a command looks a built-in's scheme up without loading the plugins, another scheme after loading them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-plugreg-ctx-" });
  const sink = {
    writeSync: (p: Uint8Array) => p.length,
    write: (p: Uint8Array) => Promise.resolve(p.length),
    isTerminal: () => false,
  };
  const output = new Output({
    json: true,
    quiet: true,
    color: false,
    streams: { stdout: sink, stderr: sink },
  });
  // A --plugin folder without a manifest: loading the plugins fails, so a lookup that succeeds loaded none.
  const ctx = await createContext(
    { json: true, store: `${dir}/store`, plugin: [`${dir}/no-such-plugin`] },
    { HOME: dir, XDG_CONFIG_HOME: `${dir}/config` },
    output,
  );
  try {
    assert.equal(await ctx.lookupRegistry("hf"), huggingFaceRegistry);
    assert.equal(await ctx.lookupRegistry("file"), undefined);
    assert.equal(await ctx.credentials("huggingface", "huggingface.co"), null);
    await assert.rejects(
      ctx.lookupRegistry("mirror"),
      (e: Error & { code?: string }) => e.code === "PLUGIN_NOT_FOUND" || e.code === "PLUGIN_MANIFEST_INVALID",
    );
  } finally {
    await ctx.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

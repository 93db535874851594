import assert from "node:assert/strict";
import {
  credentialsFor,
  hubEndpoint,
  hubToken,
  settingsCredentials,
  withRegistryCredentials,
} from "./credentials.ts";
import type { PlannedFile } from "./registry.ts";

Deno.test("credentialsFor: HF_TOKEN to the Hub endpoint's origin only", () => {
  const hub = { hfToken: "hf_x" };
  const bearer = { authorization: "Bearer hf_x" };
  assert.deepEqual(credentialsFor("https://huggingface.co/o/r/resolve/abc/m.gguf", hub), bearer);
  assert.deepEqual(credentialsFor(new URL("https://huggingface.co/api/models/o/r"), hub), bearer);
  for (const url of ["https://cdn-lfs.hf.co/x", "https://huggingface.co:8443/x", "http://huggingface.co/x"]) {
    assert.equal(credentialsFor(url, hub), undefined, url);
  }
  const mirror = { hfEndpoint: "https://mirror.example/hub/", hfToken: "hf_x" };
  assert.deepEqual(credentialsFor("https://mirror.example/o/r/resolve/abc/m.gguf", mirror), bearer);
  assert.equal(credentialsFor("https://huggingface.co/o/r", mirror), undefined);
  assert.equal(credentialsFor("https://huggingface.co/o/r", { hfToken: "  " }), undefined);
  assert.equal(credentialsFor("https://huggingface.co/o/r", {}), undefined);
});

Deno.test("hubEndpoint and hubToken: defaults, trimming, and a bad HF_ENDPOINT is USAGE", () => {
  assert.equal(hubEndpoint({}).href, "https://huggingface.co/");
  assert.equal(hubEndpoint({ hfEndpoint: " https://m.example/x/?q#h " }).href, "https://m.example/x");
  assert.equal(hubToken({ hfToken: " t " }), "t");
  assert.throws(
    () => hubEndpoint({ hfEndpoint: "not a url" }),
    (e: Error & { code?: string }) => e.code === "USAGE",
  );
  assert.throws(
    () => hubEndpoint({ hfEndpoint: "ftp://m.example" }),
    (e: Error & { code?: string }) => e.code === "USAGE",
  );
});

Deno.test("withRegistryCredentials: each host of the plan asked of the plan's registry, applied to that host only", async () => {
  const asked: string[] = [];
  const plan: { source: { registry: string }; files: PlannedFile[] } = {
    source: { registry: "mirror" },
    files: [
      {
        role: "model",
        filename: "a.gguf",
        url: "https://a.test/a.gguf",
        mirrors: ["https://b.test:8443/a.gguf"],
      },
      { role: "shard", filename: "b.gguf", url: "https://a.test/b.gguf" },
    ],
  };
  const { plan: given, hosts } = await withRegistryCredentials(plan, (registry, host) => {
    asked.push(`${registry} ${host}`);
    return Promise.resolve(host === "a.test" ? { authorization: "Bearer m" } : null);
  });
  assert.deepEqual(asked, ["mirror a.test", "mirror b.test:8443"]);
  assert.deepEqual([...hosts], ["a.test"]);
  assert.deepEqual(given.files[0]!.hostHeaders, { "a.test": { authorization: "Bearer m" } });
  assert.deepEqual(given.files[1]!.hostHeaders, { "a.test": { authorization: "Bearer m" } });
});

Deno.test("settingsCredentials: HF_TOKEN for the Hub's host of a Hugging Face plan, nothing else", async () => {
  const lookup = settingsCredentials({ hfToken: "hf_x" });
  assert.deepEqual(await lookup("huggingface", "huggingface.co"), { authorization: "Bearer hf_x" });
  assert.equal(await lookup("huggingface", "cdn-lfs.hf.co"), null);
  assert.equal(await lookup("https", "huggingface.co"), null);
  assert.equal(await settingsCredentials({})("huggingface", "huggingface.co"), null);
});

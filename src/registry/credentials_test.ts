import assert from "node:assert/strict";
import { credentialsFor, hubEndpoint, hubToken } from "./credentials.ts";

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

import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { HostPolicy } from "./host_policy.ts";

function refused(policy: HostPolicy, url: string, context?: { redirectedFrom?: string }): LodeError {
  try {
    policy.check(new URL(url), context);
  } catch (e) {
    assert.ok(e instanceof LodeError, String(e));
    return e;
  }
  assert.fail(`${url} was allowed`);
}

Deno.test("https to an allowed host passes", () => {
  const policy = new HostPolicy({ allowHosts: ["huggingface.co"] });
  policy.check(new URL("https://huggingface.co/m.gguf"));
  policy.check(new URL("https://HuggingFace.CO:8443/a/b.gguf?x=1"));
  assert.deepEqual(policy.allowedHosts, ["huggingface.co"]);
});

Deno.test("allow-list entries are normalised (case, spaces, IPv6 brackets)", () => {
  const policy = new HostPolicy({ allowHosts: [" Example.COM ", "[::1]"] });
  policy.check(new URL("https://example.com/m.gguf"));
  policy.check(new URL("https://[::1]:8443/m.gguf"));
});

Deno.test("another host is HOST_NOT_ALLOWED, with redirected_from when given", () => {
  const policy = new HostPolicy({ allowHosts: ["huggingface.co"] });
  const e = refused(policy, "https://evil.example/m.gguf");
  assert.equal(e.code, "HOST_NOT_ALLOWED");
  assert.equal(e.exitCode, 6);
  assert.equal(e.details.host, "evil.example");
  assert.equal(e.details.url, "https://evil.example/m.gguf");
  assert.deepEqual(e.details.allowed, ["huggingface.co"]);
  assert.equal(e.details.redirected_from, undefined);
  assert.doesNotMatch(e.message, /redirected/);

  const r = refused(policy, "https://evil.example/m.gguf", { redirectedFrom: "https://huggingface.co/m" });
  assert.equal(r.code, "HOST_NOT_ALLOWED");
  assert.equal(r.details.redirected_from, "https://huggingface.co/m");
  assert.match(r.message, /redirected from https:\/\/huggingface\.co\/m/);
});

Deno.test("look-alike hosts are not allowed", () => {
  const policy = new HostPolicy({ allowHosts: ["example.com"] });
  for (
    const url of ["https://evilexample.com/m", "https://example.com.evil.net/m", "https://sub.example.com/m"]
  ) {
    assert.equal(refused(policy, url).code, "HOST_NOT_ALLOWED", url);
  }
});

Deno.test("*.example.com allows sub-domains at any depth, but not look-alikes", () => {
  const policy = new HostPolicy({ allowHosts: ["*.example.com"] });
  policy.check(new URL("https://cdn.example.com/m"));
  policy.check(new URL("https://a.b.example.com/m"));
  policy.check(new URL("https://CDN.Example.com/m"));
  for (
    const url of ["https://badexample.com/m", "https://example.com.evil.net/m", "https://cdn.example.org/m"]
  ) {
    assert.equal(refused(policy, url).code, "HOST_NOT_ALLOWED", url);
  }
});

Deno.test("plain http is INSECURE_URL, even to an allowed host", () => {
  const policy = new HostPolicy({ allowHosts: ["example.com"] });
  const e = refused(policy, "http://example.com/m.gguf");
  assert.equal(e.code, "INSECURE_URL");
  assert.equal(e.exitCode, 6);
  assert.equal(e.details.host, "example.com");
});

Deno.test("http is allowed for hosts in httpHosts (which are allowed hosts too)", () => {
  const policy = new HostPolicy({ httpHosts: ["127.0.0.1", "localhost"] });
  policy.check(new URL("http://127.0.0.1:8080/m.gguf"));
  policy.check(new URL("http://localhost:1/m.gguf"));
  policy.check(new URL("https://127.0.0.1/m.gguf"));
  assert.deepEqual(policy.allowedHosts, ["127.0.0.1", "localhost"]);
  assert.equal(refused(policy, "http://example.com/m").code, "INSECURE_URL");
  assert.equal(refused(policy, "https://example.com/m").code, "HOST_NOT_ALLOWED");
});

Deno.test("offline refuses everything, allowed or not, before any other rule", () => {
  const policy = new HostPolicy({ allowHosts: ["example.com"], httpHosts: ["127.0.0.1"], offline: true });
  assert.equal(policy.offline, true);
  for (const url of ["https://example.com/m", "http://127.0.0.1/m", "https://other.net/m", "ftp://x/m"]) {
    const e = refused(policy, url);
    assert.equal(e.code, "OFFLINE", url);
    assert.equal(e.exitCode, 6);
  }
});

Deno.test("with() adds the hosts of URLs and keeps http hosts and offline", () => {
  const base = new HostPolicy({ allowHosts: ["a.example"], httpHosts: ["127.0.0.1"] });
  const wider = base.with(["https://b.example/m.gguf", new URL("https://C.example:444/x")]);
  wider.check(new URL("https://a.example/m"));
  wider.check(new URL("https://b.example/m"));
  wider.check(new URL("https://c.example/m"));
  wider.check(new URL("http://127.0.0.1/m"));
  assert.equal(refused(wider, "http://b.example/m").code, "INSECURE_URL");
  // The original is unchanged.
  assert.equal(refused(base, "https://b.example/m").code, "HOST_NOT_ALLOWED");
  const offline = new HostPolicy({ offline: true }).with(["https://b.example/m"]);
  assert.equal(refused(offline, "https://b.example/m").code, "OFFLINE");
});

Deno.test("non-http(s) schemes are refused", () => {
  const policy = new HostPolicy({ allowHosts: ["example.com"], httpHosts: ["example.com"] });
  for (const url of ["ftp://example.com/m.gguf", "file:///etc/passwd", "ws://example.com/m"]) {
    const e = refused(policy, url);
    assert.equal(e.code, "INVALID_REF", url);
  }
});

Deno.test("an empty policy allows nothing", () => {
  const policy = new HostPolicy();
  assert.deepEqual(policy.allowedHosts, []);
  assert.equal(refused(policy, "https://example.com/m").code, "HOST_NOT_ALLOWED");
});

import assert from "node:assert/strict";
import { LodeError } from "./errors.ts";
import { cliSettings, parseNoProxy, parseProxyUrl, PROXY_ENV_NAMES, proxyFromEnv } from "./config_env.ts";

Deno.test("parseProxyUrl: scheme defaults to http, credentials become percent-decoded basic auth", () => {
  assert.deepEqual(parseProxyUrl("proxy.corp:3128"), {
    url: "http://proxy.corp:3128",
  });
  assert.deepEqual(parseProxyUrl(" http://alice:s%40c%3Ar%2Ft@proxy.corp:3128/ignored/path "), {
    url: "http://proxy.corp:3128",
    basicAuth: { username: "alice", password: "s@c:r/t" },
  });
  assert.deepEqual(parseProxyUrl("127.0.0.1:8080").url, "http://127.0.0.1:8080");
  assert.deepEqual(parseProxyUrl("http://[::1]:8080").url, "http://[::1]:8080");
  assert.deepEqual(parseProxyUrl("HTTPS://Proxy.Corp:443").url, "https://proxy.corp");
  assert.deepEqual(parseProxyUrl("socks5h://bob@socks.corp:1080"), {
    url: "socks5h://socks.corp:1080",
    basicAuth: { username: "bob", password: "" },
  });
});

Deno.test("parseProxyUrl: not a proxy URL is USAGE, and the password is not repeated", () => {
  for (
    const bad of ["ftp://alice:hunter2@proxy:21", "http://alice:hunter2@[oops", "http://", "alice:hunter2@"]
  ) {
    assert.throws(() => parseProxyUrl(bad), (e: unknown) => {
      assert.ok(e instanceof LodeError, String(e));
      assert.equal(e.code, "USAGE");
      assert.ok(!e.message.includes("hunter2"), e.message);
      return true;
    }, bad);
  }
});

Deno.test("parseNoProxy: commas or whitespace, lower-cased, empties dropped", () => {
  assert.deepEqual(parseNoProxy(" localhost, .Corp\t10.0.0.0/8 ,,[::1]:8443 "), [
    "localhost",
    ".corp",
    "10.0.0.0/8",
    "[::1]:8443",
  ]);
  assert.deepEqual(parseNoProxy(undefined), []);
  assert.deepEqual(parseNoProxy(""), []);
});

Deno.test("proxyFromEnv: each scheme's variable, the ALL_PROXY fallback, NO_PROXY split into entries", () => {
  assert.deepEqual(proxyFromEnv({}), { noProxy: [] });
  assert.deepEqual(
    proxyFromEnv({ https_proxy: "proxy.corp:3128", all_proxy: "socks5h://s:1080", NO_PROXY: "a b" }),
    {
      https: "proxy.corp:3128",
      http: "socks5h://s:1080",
      noProxy: ["a", "b"],
    },
  );
  for (const name of ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"]) {
    assert.ok(PROXY_ENV_NAMES.includes(name) && PROXY_ENV_NAMES.includes(name.toLowerCase()), name);
  }
});

Deno.test("cliSettings: NO_COLOR turns colours off, LODE_DEBUG turns stack traces on", () => {
  assert.deepEqual(cliSettings({}), { color: true, debug: false, lockfile: undefined });
  assert.deepEqual(cliSettings({ NO_COLOR: "1", LODE_DEBUG: "1" }), {
    color: false,
    debug: true,
    lockfile: undefined,
  });
  assert.deepEqual(cliSettings({ NO_COLOR: "", LODE_DEBUG: "", LODE_LOCKFILE: "" }), {
    color: true,
    debug: false,
    lockfile: undefined,
  });
  assert.equal(cliSettings({ LODE_LOCKFILE: "ci/lode.lock" }).lockfile, "ci/lode.lock");
});

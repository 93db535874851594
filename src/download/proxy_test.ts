import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { parseNoProxy } from "../config_env.ts";
import { createHttpClients, noProxyMatcher } from "./proxy.ts";

Deno.test("NO_PROXY matching: names, domain suffixes, *, ports, IPs and CIDR ranges", () => {
  const cases: [string[], string, boolean][] = [
    // exact host, any port
    [["example.com"], "https://example.com/x", true],
    [["example.com"], "http://example.com:8080/x", true],
    // `suffix`, `.suffix` and `*.suffix` all match the domain and its sub-domains, never a longer name
    [["example.com"], "https://a.b.example.com/", true],
    [["example.com"], "https://notexample.com/", false],
    [[".example.com"], "https://example.com/", true],
    [[".example.com"], "https://cdn.example.com/", true],
    [[".example.com"], "https://cdnexample.com/", false],
    [["*.example.com"], "https://cdn.example.com/", true],
    [["example.com"], "https://example.com.evil.net/", false],
    // case and a trailing dot do not matter
    [["Example.COM."], "https://EXAMPLE.com./", true],
    // `*` is everything, IP hosts included
    [["*"], "https://10.1.2.3/", true],
    [["*"], "https://[::1]:9/", true],
    // host:port matches only that port; the default port counts
    [["example.com:8443"], "https://example.com:8443/", true],
    [["example.com:8443"], "https://example.com/", false],
    [["example.com:443"], "https://example.com/", true],
    [["example.com:80"], "http://example.com/", true],
    [["127.0.0.1:8443"], "https://127.0.0.1:8443/", true],
    [["127.0.0.1:8443"], "https://127.0.0.1:8444/", false],
    [["[::1]:8443"], "https://[::1]:8443/", true],
    [["[::1]:8443"], "https://[::1]/", false],
    // IP addresses match IP hosts in any spelling; names are never resolved
    [["127.0.0.1"], "https://127.0.0.1/", true],
    [["127.0.0.1"], "https://localhost/", false],
    [["localhost"], "https://127.0.0.1/", false],
    [["::1"], "https://[0:0:0:0:0:0:0:1]/", true],
    [["[::1]"], "https://[::1]/", true],
    [["0:0::1"], "https://[::1]/", true],
    [["::ffff:127.0.0.1"], "https://[::ffff:7f00:1]/", true],
    [["127.0.0.1"], "https://127.0.0.2/", false],
    // CIDR ranges, v4 and v6; host bits in the entry are ignored; a bad range matches nothing
    [["127.0.0.0/8"], "https://127.200.3.4/", true],
    [["127.0.0.1/8"], "https://127.200.3.4/", true],
    [["10.0.0.0/8"], "https://11.0.0.1/", false],
    [["192.168.1.0/24"], "https://192.168.1.42/", true],
    [["192.168.1.0/24"], "https://192.168.2.42/", false],
    [["0.0.0.0/0"], "https://8.8.8.8/", true],
    [["fe80::/10"], "https://[fe80::1]/", true],
    [["fe80::/10"], "https://[fec0::1]/", false],
    [["10.0.0.0/33"], "https://10.0.0.1/", false],
    [["10.0.0.0/x"], "https://10.0.0.1/", false],
    [["10.0.0.0/8"], "https://[::1]/", false],
    // lists: any entry
    [["a.example", "b.example", "127.0.0.1"], "https://127.0.0.1/", true],
    [[], "https://example.com/", false],
  ];
  for (const [entries, url, expected] of cases) {
    assert.equal(noProxyMatcher(entries)(new URL(url)), expected, `${JSON.stringify(entries)} ${url}`);
  }
});

Deno.test("noProxyMatcher compiles once and can be called for many URLs", () => {
  const bypass = noProxyMatcher(parseNoProxy("localhost,.internal,10.0.0.0/8"));
  assert.deepEqual(
    ["https://localhost:1/", "https://x.internal/", "https://10.9.9.9/", "https://huggingface.co/"].map((u) =>
      bypass(new URL(u))
    ),
    [true, true, true, false],
  );
});

Deno.test("createHttpClients: no proxy and no CA means Deno's default client", () => {
  const clients = createHttpClients({ caCertPems: [] });
  assert.equal(clients.clientFor(new URL("https://example.com/")), undefined);
  assert.equal(clients.proxyFor(new URL("https://example.com/")), null);
  clients.close();
});

Deno.test("createHttpClients: one cached client per proxy; bypassed URLs get the direct one", () => {
  const clients = createHttpClients({
    caCertPems: [],
    proxy: {
      https: "http://alice:pw@proxy.corp:3128",
      http: "http://alice:pw@proxy.corp:3128",
      noProxy: ["localhost"],
    },
  });
  try {
    const a = clients.clientFor(new URL("https://a.example/x"));
    assert.ok(a);
    assert.equal(clients.clientFor(new URL("https://b.example/y")), a);
    // The same proxy for http and https is one client.
    assert.equal(clients.clientFor(new URL("http://c.example/")), a);
    // No CA: a bypassed URL uses Deno's default client.
    assert.equal(clients.clientFor(new URL("https://localhost:8443/")), undefined);
    assert.equal(clients.proxyFor(new URL("https://a.example/")), "http://proxy.corp:3128");
    assert.equal(clients.proxyFor(new URL("https://localhost/")), null);
    // A scheme with no proxy configured goes direct.
    assert.equal(clients.proxyFor(new URL("ftp://a.example/")), null);
  } finally {
    clients.close();
  }
});

/** A real (throw-away, self-signed) certificate: only parsed by createHttpClient, never trusted for anything. */
const PLACEHOLDER_CA = [
  "-----BEGIN CERTIFICATE-----",
  "MIIBoDCCAUegAwIBAgIUMBix5uSxUmYvK4N4G5BXlZTPDTMwCgYIKoZIzj0EAwIw",
  "JjEkMCIGA1UEAwwbbG9kZSBwcm94eV90ZXN0IHBsYWNlaG9sZGVyMB4XDTI2MTEy",
  "MzIxMjQzNVoXDTI2MTEyNDIxMjQzNVowJjEkMCIGA1UEAwwbbG9kZSBwcm94eV90",
  "ZXN0IHBsYWNlaG9sZGVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqD97xIp8",
  "M4dc01BoZpqqgqYDe7DmF928q1SoN/52qQfcgvKe53ZoQWmwvNU8W1FWNqj8sJ3s",
  "8JkbCSiIJF0pKaNTMFEwHQYDVR0OBBYEFG6nk8XnmmlBkSbVUEOjEVPWfVhwMB8G",
  "A1UdIwQYMBaAFG6nk8XnmmlBkSbVUEOjEVPWfVhwMA8GA1UdEwEB/wQFMAMBAf8w",
  "CgYIKoZIzj0EAwIDRwAwRAIgPlEcsBkrZetSL7k8dwcxqdVhP4xIHUMEjl+2io+Z",
  "RtkCIHvxIdDyRdezjgqUueTtBj1zawc+ozWjzxSokeHU5jZx",
  "-----END CERTIFICATE-----",
].join("\n") + "\n";

Deno.test("createHttpClients: with extra CAs every URL gets a client; different proxies differ", () => {
  const clients = createHttpClients({
    caCertPems: [PLACEHOLDER_CA],
    proxy: { https: "http://one.corp:1", http: "http://two.corp:2", noProxy: ["direct.example"] },
  });
  try {
    const one = clients.clientFor(new URL("https://x.example/"));
    const two = clients.clientFor(new URL("http://x.example/"));
    const direct = clients.clientFor(new URL("https://direct.example/"));
    assert.ok(one && two && direct);
    assert.equal(new Set([one, two, direct]).size, 3);
    assert.equal(clients.clientFor(new URL("https://other.direct.example/")), direct);
    assert.equal(clients.clientFor(new URL("https://y.example/")), one);
  } finally {
    clients.close();
  }
});

Deno.test("createHttpClients: the same proxy with other credentials is another client", () => {
  const clients = createHttpClients({
    caCertPems: [],
    proxy: { https: "http://alice:a@p.corp:1", http: "http://bob:b@p.corp:1", noProxy: [] },
  });
  try {
    assert.notEqual(
      clients.clientFor(new URL("https://x.example/")),
      clients.clientFor(new URL("http://x.example/")),
    );
  } finally {
    clients.close();
  }
});

Deno.test("createHttpClients: a bad proxy URL is USAGE at creation; clientFor after close throws", () => {
  assert.throws(
    () => createHttpClients({ caCertPems: [], proxy: { https: "ftp://x", noProxy: [] } }),
    (e: unknown) => e instanceof LodeError && e.code === "USAGE",
  );
  const clients = createHttpClients({ caCertPems: [], proxy: { https: "http://p:1", noProxy: [] } });
  clients.clientFor(new URL("https://a.example/"));
  clients.close();
  clients.close();
  assert.throws(() => clients.clientFor(new URL("https://a.example/")), /after close/);
});

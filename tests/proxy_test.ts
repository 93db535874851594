/**
 * Proxies end to end: real fetches through a real tinyproxy to a real HTTPS origin on loopback, with the
 * clients chosen by `createHttpClients` (src/download/proxy.ts). The proxy's own log proves which
 * requests went through it (`CONNECT 127.0.0.1:PORT`) and which did not.
 *
 * Needs Debian's tinyproxy (`apt-get install -y tinyproxy`); skipped, saying so, when it is missing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { makeTestCa, type TestCa } from "./support/test_ca.ts";
import { type Origin, startOrigin } from "./support/origin.ts";
import { startProxy, type TestProxy, tinyproxyMissing } from "./support/proxy.ts";
import { createHttpClients } from "../src/download/proxy.ts";
import type { ProxyConfig } from "../src/config_env.ts";
import { runLode } from "./support/lode_cli.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const BYTES = await Deno.readFile(FIXTURE);
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const PROXY_MODULE = new URL("../src/download/proxy.ts", import.meta.url).href;
const CONFIG_MODULE = new URL("../src/config.ts", import.meta.url).href;
const CONFIG_ENV_MODULE = new URL("../src/config_env.ts", import.meta.url).href;

const missing = await tinyproxyMissing();
if (missing) console.log(`proxy_test.ts: SKIPPED, ${missing}`);

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: missing !== null, fn });
}

interface World {
  dir: string;
  ca: TestCa;
  origin: Origin;
  proxy: TestProxy;
  /** GETs `url` with the client `createHttpClients` picks for it under `proxy`; returns status and body. */
  get(url: string, proxy: Partial<ProxyConfig>): Promise<{ status: number; body: Uint8Array }>;
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-proxy-test-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({ tls: ca, routes: { "/m.gguf": { body: BYTES } } });
  const proxy = await startProxy();
  try {
    await body({
      dir,
      ca,
      origin,
      proxy,
      async get(url, config) {
        const clients = createHttpClients({ caCertPems: [ca.caCertPem], proxy: { noProxy: [], ...config } });
        try {
          const response = await fetch(url, { client: clients.clientFor(new URL(url)) });
          return { status: response.status, body: new Uint8Array(await response.arrayBuffer()) };
        } finally {
          clients.close();
        }
      },
    });
  } finally {
    await proxy.close();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

test("https through tinyproxy: the bytes arrive intact and the proxy log shows the CONNECT", async () => {
  await withWorld(async ({ origin, proxy, get }) => {
    const r = await get(`${origin.url}/m.gguf`, { https: proxy.url });
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), SHA);
    assert.deepEqual(proxy.targets(), [`CONNECT 127.0.0.1:${origin.port}`]);
    assert.match(await proxy.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${origin.port} HTTP/1\\.1`));
    assert.equal(origin.requests.length, 1);
    // The TLS session is end to end: the origin saw the GET itself, not the proxy's CONNECT.
    assert.equal(origin.requests[0]!.method, "GET");
    // A host name goes through too (the leaf certificate names localhost): nothing is bypassed for loopback.
    const byName = await get(`https://localhost:${origin.port}/m.gguf`, { https: proxy.url });
    assert.equal(sha256(byName.body), SHA);
    assert.deepEqual(proxy.targets(), [
      `CONNECT 127.0.0.1:${origin.port}`,
      `CONNECT localhost:${origin.port}`,
    ]);
  });
});

test("NO_PROXY: a listed host goes direct and the proxy sees nothing", async () => {
  await withWorld(async ({ origin, proxy, get }) => {
    const ip = `${origin.url}/m.gguf`;
    const name = `https://localhost:${origin.port}/m.gguf`;
    const cases: [string, string[]][] = [
      [ip, ["127.0.0.1"]],
      [ip, ["127.0.0.0/8"]],
      [ip, [`127.0.0.1:${origin.port}`]],
      [ip, ["*"]],
      [ip, ["example.com", " 127.0.0.1 "]],
      [name, ["localhost"]],
      [name, [".localhost"]],
      [name, ["LOCALHOST"]],
      [name, [`localhost:${origin.port}`]],
    ];
    for (const [url, noProxy] of cases) {
      const before = origin.requests.length;
      const r = await get(url, { https: proxy.url, noProxy });
      assert.equal(sha256(r.body), SHA, `${url} ${noProxy}`);
      assert.equal(origin.requests.length, before + 1);
      assert.equal(proxy.requests(), 0, `${url} with NO_PROXY ${noProxy} went through the proxy`);
    }
    // Entries that do not match: another port, another address, a different name.
    const misses: [string, string[]][] = [
      [ip, [`127.0.0.1:${origin.port + 1}`]],
      [ip, ["127.0.0.2", "localhost"]],
      [name, ["127.0.0.1", "notlocalhost"]],
    ];
    for (const [url, noProxy] of misses) {
      const before = proxy.requests();
      const r = await get(url, { https: proxy.url, noProxy });
      assert.equal(sha256(r.body), SHA);
      assert.equal(proxy.requests(), before + 1, `${url} with NO_PROXY ${noProxy} bypassed the proxy`);
    }
  });
});

test("plain http goes through the http proxy (absolute-form GET); the https proxy never serves it", async () => {
  await withWorld(async ({ proxy, get }) => {
    const plain = await startOrigin({ routes: { "/m.gguf": { body: BYTES } } });
    try {
      const url = `${plain.url}/m.gguf`;
      const r = await get(url, { http: proxy.url });
      assert.equal(sha256(r.body), SHA);
      assert.deepEqual(proxy.targets(), [`GET ${url}`]);
      const direct = await get(url, { https: proxy.url });
      assert.equal(sha256(direct.body), SHA);
      assert.equal(proxy.requests(), 1);
      assert.equal(plain.requests.length, 2);
    } finally {
      await plain.close();
    }
  });
});

test("a Range request through the proxy gets its 206 and exactly the bytes asked for", async () => {
  await withWorld(async ({ ca, origin, proxy }) => {
    const clients = createHttpClients({
      caCertPems: [ca.caCertPem],
      proxy: { https: proxy.url, noProxy: [] },
    });
    try {
      const url = new URL(`${origin.url}/m.gguf`);
      const parts = await Promise.all([[0, 99_999], [100_000, BYTES.length - 1]].map(async ([from, to]) => {
        const r = await fetch(url, {
          client: clients.clientFor(url),
          headers: { range: `bytes=${from}-${to}` },
        });
        assert.equal(r.status, 206);
        return new Uint8Array(await r.arrayBuffer());
      }));
      assert.equal(sha256(new Uint8Array([...parts[0]!, ...parts[1]!])), SHA);
      assert.ok(proxy.requests() >= 1);
      assert.ok(
        proxy.targets().every((t) => t === `CONNECT 127.0.0.1:${origin.port}`),
        proxy.targets().join(),
      );
    } finally {
      clients.close();
    }
  });
});

test("a redirect to a NO_PROXY host: each hop gets the client for its own URL", async () => {
  await withWorld(async ({ ca, origin, proxy }) => {
    const second = await startOrigin({
      tls: ca,
      hostname: "127.0.0.2",
      routes: { "/m.gguf": { body: BYTES } },
    });
    origin.routes["/moved"] = { redirect: `${second.url}/m.gguf` };
    const clients = createHttpClients({
      caCertPems: [ca.caCertPem],
      proxy: { https: proxy.url, noProxy: ["127.0.0.2"] },
    });
    try {
      let url = new URL(`${origin.url}/moved`);
      let response = await fetch(url, { client: clients.clientFor(url), redirect: "manual" });
      assert.equal(response.status, 302);
      await response.body?.cancel();
      url = new URL(response.headers.get("location")!, url);
      assert.equal(clients.proxyFor(url), null);
      response = await fetch(url, { client: clients.clientFor(url), redirect: "manual" });
      assert.equal(sha256(new Uint8Array(await response.arrayBuffer())), SHA);
      assert.deepEqual(proxy.targets(), [`CONNECT 127.0.0.1:${origin.port}`]);
      assert.equal(second.requests.length, 1);
    } finally {
      clients.close();
      await second.close();
    }
  });
});

test("proxy basic auth: the credentials in the proxy URL are sent; without them the tunnel is refused", async () => {
  await withWorld(async ({ origin, get }) => {
    const guarded = await startProxy({ basicAuth: { username: "alice", password: "p-ss_w.rd" } });
    try {
      const url = `${origin.url}/m.gguf`;
      await assert.rejects(get(url, { https: guarded.url }), (e: Error) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(String(e.cause), /unsuccessful tunnel/);
        return true;
      });
      const withAuth = guarded.url.replace("http://", "http://alice:p-ss_w.rd@");
      const r = await get(url, { https: withAuth });
      assert.equal(sha256(r.body), SHA);
      assert.deepEqual(guarded.targets(), [
        `CONNECT 127.0.0.1:${origin.port}`,
        `CONNECT 127.0.0.1:${origin.port}`,
      ]);
      assert.equal(origin.requests.length, 1);
    } finally {
      await guarded.close();
    }
  });
});

test("a proxy that is down fails the request: it is never silently bypassed", async () => {
  await withWorld(async ({ origin, get }) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = (listener.addr as Deno.NetAddr).port;
    listener.close();
    await assert.rejects(
      get(`${origin.url}/m.gguf`, { https: `http://127.0.0.1:${deadPort}` }),
      (e: Error) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(String(e.cause), /Connection refused/);
        return true;
      },
    );
    assert.equal(origin.requests.length, 0);
  });
});

/** Runs a child Deno that loads the config from its own env, fetches once, and optionally clears the env first. */
async function childFetch(
  w: World,
  options: { env: Record<string, string>; clearEnv: boolean },
): Promise<string> {
  await Deno.writeTextFile(`${w.dir}/ca.pem`, w.ca.caCertPem);
  const code = `
    import { createHttpClients } from ${JSON.stringify(PROXY_MODULE)};
    import { PROXY_ENV_NAMES } from ${JSON.stringify(CONFIG_ENV_MODULE)};
    import { loadConfig } from ${JSON.stringify(CONFIG_MODULE)};
    const env = Deno.env.toObject();
    if (${options.clearEnv}) for (const name of PROXY_ENV_NAMES) Deno.env.delete(name);
    const config = await loadConfig({}, env);
    const clients = createHttpClients({ caCertPems: config.caCertPems, proxy: config.proxy });
    const url = new URL(${JSON.stringify(`${w.origin.url}/m.gguf`)});
    const r = await fetch(url, { client: clients.clientFor(url) });
    console.log(r.status, (await r.arrayBuffer()).byteLength, clients.proxyFor(url));
    clients.close();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: w.dir,
      XDG_CONFIG_HOME: `${w.dir}/no-config`,
      DENO_CERT: `${w.dir}/ca.pem`,
      NO_COLOR: "1",
      ...options.env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return stdout;
}

test("Deno applies HTTPS_PROXY from the process env to clients lode meant to be direct, unless it is cleared", async () => {
  await withWorld(async (w) => {
    // lode's NO_PROXY says direct (host:port entry); Deno's own NO_PROXY ignores host:port entries.
    const env = { HTTPS_PROXY: w.proxy.url, NO_PROXY: `127.0.0.1:${w.origin.port}` };
    assert.equal(await childFetch(w, { env, clearEnv: true }), `200 ${BYTES.length} null`);
    assert.equal(w.proxy.requests(), 0, "lode's direct decision held once the env was cleared");
    assert.equal(await childFetch(w, { env, clearEnv: false }), `200 ${BYTES.length} null`);
    assert.equal(
      w.proxy.requests(),
      1,
      "Deno 2.9.6 proxied a request lode decided was direct (env HTTPS_PROXY); if it no longer does, " +
        "clearing PROXY_ENV_NAMES in main.ts may be unnecessary",
    );
    // And with the env cleared, lode's proxy decision still holds (it does not depend on the env).
    const viaProxy = await childFetch(w, {
      env: { HTTPS_PROXY: w.proxy.url, NO_PROXY: "127.0.0.2" },
      clearEnv: true,
    });
    assert.equal(viaProxy, `200 ${BYTES.length} ${w.proxy.url}`);
    assert.equal(w.proxy.requests(), 2);
  });
});

test("lode pull through HTTPS_PROXY: verified bytes, every request through the proxy; NO_PROXY bypasses it", async () => {
  await withWorld(async ({ dir, ca, origin, proxy }) => {
    const ref = `${origin.url}/m.gguf#sha256=${SHA}`;
    const via = await runLode(["--ca-cert", ca.caCertPath, "pull", ref, "--connections", "4"], {
      store: `${dir}/via`,
      env: { HTTPS_PROXY: proxy.url },
    });
    assert.equal(via.code, 0, via.stderr);
    assert.ok(proxy.requests() >= 1);
    assert.ok(proxy.targets().every((t) => t === `CONNECT 127.0.0.1:${origin.port}`), proxy.targets().join());
    const seen = proxy.requests();
    const direct = await runLode(["--ca-cert", ca.caCertPath, "pull", ref], {
      store: `${dir}/direct`,
      env: { HTTPS_PROXY: proxy.url, NO_PROXY: "127.0.0.1" },
    });
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(proxy.requests(), seen);
  });
});

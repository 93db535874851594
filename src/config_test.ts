import assert from "node:assert/strict";
import { isLodeError, LodeError } from "./errors.ts";
import { loadConfig } from "./config.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

interface World {
  dir: string;
  /** HOME and XDG_CONFIG_HOME inside the temp dir; nothing from the real environment. */
  env: Record<string, string>;
  /** Writes `$XDG_CONFIG_HOME/lode/config.json` and returns its path. */
  writeConfig(value: unknown): Promise<string>;
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-config-" });
  try {
    const env = { HOME: `${dir}/home`, XDG_CONFIG_HOME: `${dir}/xdg-config` };
    await body({
      dir,
      env,
      writeConfig: async (value) => {
        const path = `${dir}/xdg-config/lode/config.json`;
        await Deno.mkdir(`${dir}/xdg-config/lode`, { recursive: true });
        await Deno.writeTextFile(path, typeof value === "string" ? value : JSON.stringify(value));
        return path;
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function usage(p: Promise<unknown>): Promise<LodeError> {
  const e = await p.then(() => assert.fail("accepted"), (e) => e);
  assert.ok(e instanceof LodeError, String(e));
  assert.equal(e.code, "USAGE", e.message);
  assert.equal(e.exitCode, 2);
  return e;
}

Deno.test("defaults: the store is ~/.local/share/models, https to no extra host, the download layer's cushion", async () => {
  await withWorld(async ({ dir, env }) => {
    const c = await loadConfig({}, env);
    assert.deepEqual(c, {
      storeRoot: `${dir}/home/.local/share/models`,
      caCertPaths: [],
      caCertPems: [],
      allowHosts: [],
      httpHosts: [],
      offline: false,
      cushionBytes: undefined,
      allowOrigins: [],
      connections: "auto",
      retries: 6,
      stallMs: 30_000,
      pushChunkBytes: 64 * 1024 * 1024,
      httpClient: "http1",
      color: true,
      configFile: null,
      pluginsDir: `${dir}/xdg-config/lode/plugins`,
      proxy: { noProxy: [] },
      hfEndpoint: undefined,
      hfToken: undefined,
      ociUsername: undefined,
      ociPassword: undefined,
      dockerConfigDir: `${dir}/home/.docker`,
      lockfile: undefined,
      runtimeDir: undefined,
      tmpDir: undefined,
      debug: false,
      sinks: [],
    });
  });
});

Deno.test("HF_*, LODE_LOCKFILE, XDG_RUNTIME_DIR, TMPDIR and LODE_DEBUG are read into the config", async () => {
  await withWorld(async ({ env }) => {
    const c = await loadConfig({}, {
      ...env,
      HF_ENDPOINT: " https://hf-mirror.example ",
      HF_TOKEN: "hf_x ",
      LODE_LOCKFILE: "ci/lode.lock",
      XDG_RUNTIME_DIR: "/run/user/7",
      TMPDIR: "/var/tmp",
      LODE_DEBUG: "1",
    });
    assert.equal(c.hfEndpoint, "https://hf-mirror.example");
    assert.equal(c.hfToken, "hf_x");
    assert.equal(c.lockfile, "ci/lode.lock");
    assert.equal(c.runtimeDir, "/run/user/7");
    assert.equal(c.tmpDir, "/var/tmp");
    assert.equal(c.debug, true);
    const empty = await loadConfig({}, { ...env, HF_TOKEN: " ", LODE_LOCKFILE: "", XDG_RUNTIME_DIR: "" });
    assert.equal(empty.hfToken, undefined);
    assert.equal(empty.lockfile, undefined);
    assert.equal(empty.runtimeDir, undefined);
  });
});

Deno.test("MODELS_HOME default follows XDG_DATA_HOME when set (and ignores an empty one)", async () => {
  await withWorld(async ({ dir, env }) => {
    assert.equal(
      (await loadConfig({}, { ...env, XDG_DATA_HOME: `${dir}/data` })).storeRoot,
      `${dir}/data/models`,
    );
    assert.equal(
      (await loadConfig({}, { ...env, XDG_DATA_HOME: "" })).storeRoot,
      `${dir}/home/.local/share/models`,
    );
  });
});

Deno.test("store: --store beats MODELS_HOME, which beats the config file", async () => {
  await withWorld(async ({ env, writeConfig }) => {
    const path = await writeConfig({ store: "/from-file" });
    const withEnv = { ...env, MODELS_HOME: "/from-env" };
    assert.equal((await loadConfig({ store: "/from-flag" }, withEnv)).storeRoot, "/from-flag");
    assert.equal((await loadConfig({}, withEnv)).storeRoot, "/from-env");
    const fromFile = await loadConfig({}, env);
    assert.equal(fromFile.storeRoot, "/from-file");
    assert.equal(fromFile.configFile, path);
    // An empty MODELS_HOME counts as unset.
    assert.equal((await loadConfig({}, { ...env, MODELS_HOME: "" })).storeRoot, "/from-file");
  });
});

Deno.test("free-space cushion: LODE_MIN_FREE_BYTES beats the config file", async () => {
  await withWorld(async ({ env, writeConfig }) => {
    await writeConfig({ min_free_bytes: 100 });
    assert.equal((await loadConfig({}, env)).cushionBytes, 100);
    assert.equal((await loadConfig({}, { ...env, LODE_MIN_FREE_BYTES: "200" })).cushionBytes, 200);
    assert.equal((await loadConfig({}, { ...env, LODE_MIN_FREE_BYTES: "0" })).cushionBytes, 0);
  });
});

Deno.test("LODE_MIN_FREE_BYTES must be a whole number of bytes", async () => {
  await withWorld(async ({ env }) => {
    assert.equal(
      (await loadConfig({}, { ...env, LODE_MIN_FREE_BYTES: "1073741824" })).cushionBytes,
      1073741824,
    );
    for (const bad of ["abc", "-1", "1e9", "1.5", "10MB", " 5"]) {
      const e = await usage(loadConfig({}, { ...env, LODE_MIN_FREE_BYTES: bad }));
      assert.ok(e.message.includes("LODE_MIN_FREE_BYTES"), e.message);
    }
  });
});

Deno.test("hosts: flags, then env (comma-separated), then the config file, all kept", async () => {
  await withWorld(async ({ env, writeConfig }) => {
    await writeConfig({ allow_hosts: ["file.example"], allow_http: ["10.0.0.1"] });
    const c = await loadConfig(
      { allowHost: ["flag.example"], allowHttp: ["127.0.0.1"] },
      { ...env, LODE_ALLOW_HOSTS: " env1.example, ,env2.example ", LODE_ALLOW_HTTP: "localhost" },
    );
    assert.deepEqual(c.allowHosts, ["flag.example", "env1.example", "env2.example", "file.example"]);
    assert.deepEqual(c.httpHosts, ["127.0.0.1", "localhost", "10.0.0.1"]);
  });
});

Deno.test("allow_origins: the config file's web origins, normalized", async () => {
  await withWorld(async ({ env, writeConfig }) => {
    assert.deepEqual((await loadConfig({}, env)).allowOrigins, []);
    await writeConfig({ allow_origins: ["HTTPS://App.Example.com:443/", "http://lan.test:8080"] });
    assert.deepEqual((await loadConfig({}, env)).allowOrigins, [
      "https://app.example.com",
      "http://lan.test:8080",
    ]);
  });
});

Deno.test("offline from --offline or LODE_OFFLINE=1/true; NO_COLOR turns colours off", async () => {
  await withWorld(async ({ env }) => {
    assert.equal((await loadConfig({ offline: true }, env)).offline, true);
    assert.equal((await loadConfig({}, { ...env, LODE_OFFLINE: "1" })).offline, true);
    assert.equal((await loadConfig({}, { ...env, LODE_OFFLINE: "true" })).offline, true);
    assert.equal((await loadConfig({}, { ...env, LODE_OFFLINE: "0" })).offline, false);
    assert.equal((await loadConfig({}, { ...env, NO_COLOR: "1" })).color, false);
  });
});

Deno.test("CA certificates: --ca-cert, DENO_CERT and the config file are all read", async () => {
  await withWorld(async ({ dir, env, writeConfig }) => {
    for (const name of ["flag", "env", "file"]) {
      await Deno.writeTextFile(`${dir}/${name}.pem`, `${name}\n${PEM}`);
    }
    await writeConfig({ ca_certs: [`${dir}/file.pem`] });
    const c = await loadConfig({ caCert: [`${dir}/flag.pem`] }, { ...env, DENO_CERT: `${dir}/env.pem` });
    assert.deepEqual(c.caCertPaths, [`${dir}/flag.pem`, `${dir}/env.pem`, `${dir}/file.pem`]);
    assert.deepEqual(c.caCertPems, [`flag\n${PEM}`, `env\n${PEM}`, `file\n${PEM}`]);
  });
});

Deno.test("DENO_CERT alone is read as a CA", async () => {
  await withWorld(async ({ dir, env }) => {
    await Deno.writeTextFile(`${dir}/ca.pem`, PEM);
    const c = await loadConfig({}, { ...env, DENO_CERT: `${dir}/ca.pem` });
    assert.deepEqual(c.caCertPaths, [`${dir}/ca.pem`]);
    assert.deepEqual(c.caCertPems, [PEM]);
  });
});

Deno.test("a missing CA file is USAGE naming it", async () => {
  await withWorld(async ({ dir, env }) => {
    const missing = `${dir}/nope.pem`;
    const e = await usage(loadConfig({}, { ...env, DENO_CERT: missing }));
    assert.equal(e.details.path, missing);
    assert.ok(e.message.includes(missing));
    const f = await usage(loadConfig({ caCert: [missing] }, env));
    assert.equal(f.details.path, missing);
  });
});

Deno.test("an invalid config file is CONFIG_INVALID naming its path, the field, what was expected and found", async () => {
  await withWorld(async ({ env, writeConfig }) => {
    for (
      const [bad, field, says] of [
        ["{ not json", "(root)", /not valid JSON at line 1/],
        [{ store: 42 }, "store", /store: expected a string, found 42/],
        [{ allow_hosts: "one.example" }, "allow_hosts", /allow_hosts: expected a list, found "one\.example"/],
        [{ allow_http: ["a", 7] }, "allow_http[1]", /allow_http\[1\]: expected a string, found 7/],
        [{ min_free_bytes: -1 }, "min_free_bytes", /expected a number of at least 0, found -1/],
        [
          { allow_origins: ["app.example.com"] },
          "allow_origins[0]",
          /allow_origins\[0\]: expected a web origin: scheme, host and port only/,
        ],
        [
          { unknown_field: true },
          "unknown_field",
          /unknown_field: unknown field \(known: store, allow_hosts/,
        ],
        [{ stor: "/x" }, "stor", /did you mean "store"/],
        [[], "(root)", /expected an object, found an empty list/],
      ] as const
    ) {
      const path = await writeConfig(bad);
      const e = await loadConfig({}, env).then(() => assert.fail("accepted"), (e) => e);
      assert.ok(isLodeError(e, "CONFIG_INVALID"), String(e));
      assert.equal(e.exitCode, 2);
      assert.equal(e.details.file, path, JSON.stringify(bad));
      assert.equal(e.details.field, field, JSON.stringify(bad));
      assert.match(e.message, says);
      assert.ok(e.message.startsWith(`config file ${path} `), e.message);
      assert.doesNotMatch(e.message, /invalid_type|"code"/);
      const issue = (e.details.issues as Record<string, unknown>[])[0]!;
      assert.deepEqual(Object.keys(issue).filter((k) => k !== "line" && k !== "column").sort(), [
        "expected",
        "message",
        "path",
        "received",
      ]);
    }
  });
});

Deno.test("LODE_CONFIG names another config file", async () => {
  await withWorld(async ({ dir, env, writeConfig }) => {
    await writeConfig({ store: "/from-default-location" });
    const other = `${dir}/other.json`;
    await Deno.writeTextFile(other, JSON.stringify({ store: "/from-lode-config" }));
    const c = await loadConfig({}, { ...env, LODE_CONFIG: other });
    assert.equal(c.storeRoot, "/from-lode-config");
    assert.equal(c.configFile, other);
  });
});

Deno.test("without XDG_CONFIG_HOME the config file is ~/.config/lode/config.json", async () => {
  await withWorld(async ({ dir }) => {
    await Deno.mkdir(`${dir}/home/.config/lode`, { recursive: true });
    await Deno.writeTextFile(`${dir}/home/.config/lode/config.json`, JSON.stringify({ store: "/s" }));
    const c = await loadConfig({}, { HOME: `${dir}/home` });
    assert.equal(c.storeRoot, "/s");
    assert.equal(c.configFile, `${dir}/home/.config/lode/config.json`);
  });
});

Deno.test("proxies: HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read into config.proxy", async () => {
  await withWorld(async ({ env }) => {
    const c = await loadConfig({}, {
      ...env,
      HTTPS_PROXY: " http://alice:s%40cret@proxy.corp:3128 ",
      HTTP_PROXY: "plain.corp:8080",
      NO_PROXY: "localhost, .Internal.Corp  10.0.0.0/8,,mirror.local:8443",
    });
    assert.deepEqual(c.proxy, {
      https: "http://alice:s%40cret@proxy.corp:3128",
      http: "plain.corp:8080",
      noProxy: ["localhost", ".internal.corp", "10.0.0.0/8", "mirror.local:8443"],
    });
  });
});

Deno.test("proxies: upper case beats lower case; lower case alone works; empty counts as unset", async () => {
  await withWorld(async ({ env }) => {
    const both = await loadConfig({}, {
      ...env,
      HTTPS_PROXY: "http://upper:1",
      https_proxy: "http://lower:1",
      NO_PROXY: "upper.example",
      no_proxy: "lower.example",
    });
    assert.equal(both.proxy.https, "http://upper:1");
    assert.deepEqual(both.proxy.noProxy, ["upper.example"]);
    const lower = await loadConfig({}, { ...env, http_proxy: "http://lower:2", no_proxy: "a,b" });
    assert.deepEqual(lower.proxy, { http: "http://lower:2", noProxy: ["a", "b"] });
    const empty = await loadConfig({}, {
      ...env,
      HTTPS_PROXY: "",
      https_proxy: "http://lower:3",
      NO_PROXY: " ",
    });
    assert.deepEqual(empty.proxy, { https: "http://lower:3", noProxy: [] });
  });
});

Deno.test("proxies: ALL_PROXY is the fallback for both schemes", async () => {
  await withWorld(async ({ env }) => {
    const c = await loadConfig({}, { ...env, ALL_PROXY: "http://all:1", HTTP_PROXY: "http://http-only:2" });
    assert.deepEqual(c.proxy, { https: "http://all:1", http: "http://http-only:2", noProxy: [] });
    const lower = await loadConfig({}, { ...env, all_proxy: "socks5h://all:1080" });
    assert.deepEqual(lower.proxy, { https: "socks5h://all:1080", http: "socks5h://all:1080", noProxy: [] });
  });
});

Deno.test("proxies: under CGI (REQUEST_METHOD set) HTTP_PROXY is ignored, http_proxy is not", async () => {
  await withWorld(async ({ env }) => {
    const cgi = { ...env, REQUEST_METHOD: "GET", HTTP_PROXY: "http://injected:1" };
    assert.equal((await loadConfig({}, cgi)).proxy.http, undefined);
    assert.equal((await loadConfig({}, { ...cgi, http_proxy: "http://mine:2" })).proxy.http, "http://mine:2");
  });
});

Deno.test("proxies: a bad proxy URL is USAGE naming the variable, never echoing the password", async () => {
  await withWorld(async ({ env }) => {
    for (
      const [name, value] of [
        ["HTTPS_PROXY", "ftp://alice:hunter2@proxy:21"],
        ["HTTP_PROXY", "http://alice:hunter2@[bad"],
        ["https_proxy", "http://:1"],
      ]
    ) {
      const e = await usage(loadConfig({}, { ...env, [name!]: value }));
      assert.equal(e.details.variable, name);
      assert.ok(e.message.startsWith(`${name}: `), e.message);
      assert.ok(!e.message.includes("hunter2"), e.message);
      assert.match(e.hint, /http:\/\/HOST:PORT/);
    }
  });
});

Deno.test("LODE_HTTP_CLIENT chooses fetch or lode's HTTP/1.1 client; anything else is a usage error", async () => {
  await withWorld(async ({ env }) => {
    assert.equal((await loadConfig({}, { ...env, LODE_HTTP_CLIENT: "fetch" })).httpClient, "fetch");
    assert.equal((await loadConfig({}, { ...env, LODE_HTTP_CLIENT: "http1" })).httpClient, "http1");
    await assert.rejects(
      () => loadConfig({}, { ...env, LODE_HTTP_CLIENT: "curl" }),
      (e: unknown) => e instanceof LodeError && e.code === "USAGE",
    );
  });
});

Deno.test("sinks: the config file's list, then --sink; secrets read from the variables named", async () => {
  await withWorld(async ({ env, writeConfig }) => {
    await writeConfig({
      sinks: [
        {
          type: "webhook",
          url: "https://hooks.example/lode",
          secret_env: "MY_HOOK_SECRET",
          events: ["job.*"],
        },
        { type: "file", path: "/var/log/lode/events.ndjson", max_bytes: 1000, keep: 2 },
      ],
    });
    const c = await loadConfig(
      { sink: ["webhook=https://other.example/h?a=1,2", "file=./e.ndjson"] },
      { ...env, MY_HOOK_SECRET: "whsec_a", LODE_WEBHOOK_SECRET: "whsec_b" },
    );
    assert.deepEqual(c.sinks, [
      {
        type: "webhook",
        url: "https://hooks.example/lode",
        secret: "whsec_a",
        secretEnv: "MY_HOOK_SECRET",
        events: ["job.*"],
      },
      { type: "file", path: "/var/log/lode/events.ndjson", maxBytes: 1000, keep: 2 },
      {
        type: "webhook",
        url: "https://other.example/h?a=1,2",
        secret: "whsec_b",
        secretEnv: "LODE_WEBHOOK_SECRET",
      },
      { type: "file", path: "./e.ndjson" },
    ]);
    const unset = await loadConfig({}, env);
    assert.equal(
      unset.sinks[0]!.type === "webhook" && unset.sinks[0]!.secret,
      undefined,
      "no secret: undefined",
    );
  });
});

Deno.test("sinks: a bad entry is CONFIG_INVALID naming the field; a bad --sink is USAGE", async () => {
  await withWorld(async ({ env, writeConfig }) => {
    for (
      const [entry, field, says] of [
        [{ type: "webhook", url: "ftp://x", secret_env: "S" }, "sinks[0].url", /expected an http\(s\) URL/],
        [{ type: "webhook", url: "https://x" }, "sinks[0].secret_env", /secret_env/],
        [{ type: "file", path: "/p", keep: -1 }, "sinks[0].keep", /at least 0/],
        [{ type: "syslog" }, "sinks[0].type", /type/],
        [{ type: "file", path: "/p", max_byte: 5 }, "sinks[0].max_byte", /did you mean "max_bytes"/],
      ] as const
    ) {
      await writeConfig({ sinks: [entry] });
      const e = await loadConfig({}, env).then(() => assert.fail("accepted"), (e) => e);
      assert.ok(isLodeError(e, "CONFIG_INVALID"), String(e));
      assert.equal(e.details.field, field, `${JSON.stringify(entry)}: ${e.message}`);
      assert.match(e.message, says);
    }
    await writeConfig({});
    for (const bad of ["webhook", "webhook=", "webhook=not a url", "file=", "syslog=x"]) {
      const e = await usage(loadConfig({ sink: [bad] }, env));
      assert.match(e.message, /expected webhook=URL or file=PATH/);
    }
  });
});

/**
 * The verified pull, end to end: the real CLI in a child process, pulling over
 * real HTTPS from a loopback origin whose CA was generated for the test.
 */
import assert from "node:assert/strict";
import { makeTestCa, type TestCa } from "./support/test_ca.ts";
import { type Origin, startOrigin } from "./support/origin.ts";
import { finish, listTree, runLode, spawnLode, storeEvents } from "./support/lode_cli.ts";
import { ggufWith } from "./support/gguf_bytes.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const BLOB = `blobs/sha256/27/${SHA}/data`;
const BYTES = await Deno.readFile(FIXTURE);

interface World {
  ca: TestCa;
  origin: Origin;
  store: string;
  /** Runs lode with --ca-cert for the test CA. */
  lode(args: string[], env?: Record<string, string>): ReturnType<typeof runLode>;
}

async function withWorld(routes: Origin["routes"], body: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-pull-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({ tls: ca, routes });
  const store = `${dir}/store`;
  try {
    await body({
      ca,
      origin,
      store,
      lode: (args, env) => runLode(["--ca-cert", ca.caCertPath, ...args], { store, env }),
    });
  } finally {
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function gets(origin: Origin, path: string): number {
  return origin.requests.filter((r) => r.method === "GET" && r.path === path).length;
}

Deno.test("pull over https verifies, commits the blob and writes the manifest last", async () => {
  await withWorld({ "/m/stories260K.gguf": { body: BYTES } }, async ({ origin, store, lode }) => {
    const r = await lode(["pull", `${origin.url}/m/stories260K.gguf#sha256=${SHA}`, "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const kinds = r.events.map((e) => e.event);
    assert.deepEqual(kinds.filter((k) => k !== "file_progress"), [
      "started",
      "file_started",
      "file_completed",
      "completed",
    ]);
    const last = r.events.findLast((e) => e.event === "file_progress");
    assert.equal(last?.downloaded_bytes, BYTES.length);
    assert.deepEqual(await listTree(`${store}/blobs`), [BLOB.slice("blobs/".length)]);
    const manifest = JSON.parse(await Deno.readTextFile(`${store}/manifests/stories260K.json`));
    assert.equal(manifest.schema_version, 1);
    assert.equal(manifest.blob, `sha256:${SHA}`);
    assert.equal(manifest.size_bytes, BYTES.length);
    assert.equal(manifest.pinned, true);
    assert.equal(manifest.source.filename, "stories260K.gguf");
    // A second pull is a no-op: no request reaches the origin.
    const before = origin.requests.length;
    const again = await lode(["pull", `${origin.url}/m/stories260K.gguf#sha256=${SHA}`, "--json"]);
    assert.equal(again.code, 0);
    assert.equal(again.events.find((e) => e.event === "file_completed")?.cached, true);
    assert.equal(origin.requests.length, before);
  });
});

Deno.test("pull without a pin computes, records and prints the hash", async () => {
  await withWorld({ "/m.gguf": { body: BYTES } }, async ({ origin, store, lode }) => {
    const r = await lode(["pull", `${origin.url}/m.gguf`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^m  sha256:${SHA}`));
    assert.match(r.stderr, /computed, not checked/);
    const manifest = JSON.parse(await Deno.readTextFile(`${store}/manifests/m.json`));
    assert.equal(manifest.pinned, false);
    assert.deepEqual(await listTree(`${store}/blobs`), [BLOB.slice("blobs/".length)]);
  });
});

Deno.test("wrong hash: DIGEST_MISMATCH, bytes in quarantine with a record, no manifest, exit 4", async () => {
  await withWorld({ "/m.gguf": { body: BYTES } }, async ({ origin, store, lode }) => {
    const wrong = "0".repeat(63) + "1";
    const r = await lode(["pull", `${origin.url}/m.gguf`, "--sha256", wrong, "--json"]);
    assert.equal(r.code, 4);
    const failed = r.events.find((e) => e.event === "failed");
    assert.equal(failed?.code, "DIGEST_MISMATCH");
    const tree = await listTree(store);
    assert.ok(!tree.some((p) => p.startsWith("manifests/") || p.startsWith("blobs/")), tree.join("\n"));
    const records = tree.filter((p) => p.startsWith("locks/quarantine/") && p.endsWith(".json"));
    assert.equal(records.length, 1);
    const record = JSON.parse(await Deno.readTextFile(`${store}/${records[0]}`));
    assert.equal(record.expected, wrong);
    assert.equal(record.actual, SHA);
    assert.equal(record.source, `${origin.url}/m.gguf`);
    assert.ok(Date.parse(record.quarantined_at) > 0);
    const data = await Deno.readFile(`${store}/${records[0]!.replace(/\.json$/, ".data")}`);
    assert.deepEqual(data, BYTES);
  });
});

Deno.test("a corrupted byte in transit is caught by the pinned hash", async () => {
  await withWorld({ "/m.gguf": { body: BYTES, fault: { kind: "corrupt", offset: 4096 } } }, async (w) => {
    const r = await w.lode(["pull", `${w.origin.url}/m.gguf#sha256=${SHA}`]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /error\[DIGEST_MISMATCH\]/);
    assert.ok(!(await listTree(w.store)).some((p) => p.startsWith("blobs/") || p.startsWith("manifests/")));
  });
});

Deno.test("a body that is always short: retried, then SIZE_MISMATCH; no manifest, no blob", async () => {
  await withWorld({ "/m.gguf": { body: BYTES, fault: { kind: "short", bytes: 100_000 } } }, async (w) => {
    const r = await w.lode(["pull", `${w.origin.url}/m.gguf#sha256=${SHA}`, "--json"], { LODE_RETRIES: "2" });
    assert.equal(r.code, 5, r.stdout + r.stderr);
    const failed = r.events.find((e) => e.event === "failed");
    assert.ok(failed?.code === "NETWORK" || failed?.code === "SIZE_MISMATCH", String(failed?.code));
    assert.equal((failed?.details as Record<string, unknown>).attempts, 2);
    assert.equal(gets(w.origin, "/m.gguf"), 2);
    assert.ok(!(await listTree(w.store)).some((p) => p.startsWith("manifests/") || p === BLOB));
  });
});

Deno.test("404 exits 3 (HTTP_NOT_FOUND) and 500 exits 5 (HTTP_STATUS)", async () => {
  await withWorld({ "/err.gguf": { status: 500 } }, async ({ origin, lode }) => {
    const missing = await lode(["pull", `${origin.url}/nope.gguf`, "--json"]);
    assert.equal(missing.code, 3);
    assert.equal(missing.events.find((e) => e.event === "failed")?.code, "HTTP_NOT_FOUND");
    // Retried (a 5xx may pass) before it fails: two attempts, not the default six and their backoff.
    const broken = await lode(["pull", `${origin.url}/err.gguf`, "--json"], { LODE_RETRIES: "2" });
    assert.equal(broken.code, 5);
    const failed = broken.events.find((e) => e.event === "failed");
    assert.equal(failed?.code, "HTTP_STATUS");
    assert.equal((failed?.details as Record<string, unknown>).status, 500);
  });
});

Deno.test("plain http is refused before connecting unless the host is allowed", async () => {
  const origin = await startOrigin({ routes: { "/m.gguf": { body: BYTES } } });
  const store = await Deno.makeTempDir();
  try {
    const refused = await runLode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--json"], { store });
    assert.equal(refused.code, 6);
    assert.equal(refused.events.find((e) => e.event === "failed")?.code, "INSECURE_URL");
    assert.equal(origin.connections, 0);
    const allowed = await runLode(
      ["pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--allow-http", "127.0.0.1"],
      {
        store,
      },
    );
    assert.equal(allowed.code, 0, allowed.stderr);
  } finally {
    await origin.close();
    await Deno.remove(store, { recursive: true });
  }
});

Deno.test("--offline refuses before any connection", async () => {
  await withWorld({ "/m.gguf": { body: BYTES } }, async ({ origin, lode }) => {
    const r = await lode(["pull", `${origin.url}/m.gguf`, "--offline", "--json"]);
    assert.equal(r.code, 6);
    assert.equal(r.events.find((e) => e.event === "failed")?.code, "OFFLINE");
    assert.equal(origin.connections, 0);
  });
});

Deno.test("a redirect to a host off the allow-list is refused before connecting to it", async () => {
  await withWorld({}, async ({ ca, origin, lode }) => {
    const mirror = await startOrigin({
      tls: ca,
      hostname: "127.0.0.2",
      routes: { "/m.gguf": { body: BYTES } },
    });
    try {
      origin.routes["/m.gguf"] = { redirect: `${mirror.url}/m.gguf` };
      const refused = await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--json"]);
      assert.equal(refused.code, 6);
      const failed = refused.events.find((e) => e.event === "failed");
      assert.equal(failed?.code, "HOST_NOT_ALLOWED");
      assert.equal((failed?.details as Record<string, unknown>).host, "127.0.0.2");
      assert.equal(mirror.connections, 0);
      const allowed = await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--allow-host", "127.0.0.2"]);
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.equal(gets(mirror, "/m.gguf"), 1);
    } finally {
      await mirror.close();
    }
  });
});

Deno.test("an untrusted certificate fails with TLS; DENO_CERT trusts a CA like --ca-cert", async () => {
  await withWorld({ "/m.gguf": { body: BYTES } }, async ({ ca, origin, store }) => {
    const untrusted = await runLode(["pull", `${origin.url}/m.gguf`, "--json"], { store });
    assert.equal(untrusted.code, 5);
    assert.equal(untrusted.events.find((e) => e.event === "failed")?.code, "TLS");
    const viaEnv = await runLode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`], {
      store,
      env: { DENO_CERT: ca.caCertPath },
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
  });
});

Deno.test("the disk preflight refuses a pull that would not leave the cushion free", async () => {
  await withWorld({ "/m.gguf": { body: BYTES } }, async ({ origin, store, lode }) => {
    const env = { LODE_MIN_FREE_BYTES: String(2 ** 62) };
    const r = await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--json"], env);
    assert.equal(r.code, 8);
    const failed = r.events.find((e) => e.event === "failed");
    assert.equal(failed?.code, "INSUFFICIENT_SPACE");
    // The message and the hint name the cushion's setting.
    assert.match(String(failed?.message), /kept free \(LODE_MIN_FREE_BYTES\)/);
    const text = await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`], env);
    assert.match(text.stderr, /hint: .*LODE_MIN_FREE_BYTES/);
    assert.deepEqual((await listTree(store)).filter((p) => !p.startsWith("locks/")), []);
  });
});

Deno.test("a malformed reference is INVALID_REF (exit 2) and lists the accepted forms", async () => {
  await withWorld({}, async ({ lode }) => {
    const r = await lode(["pull", "ftp://example.com/m.gguf"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /error\[INVALID_REF\]/);
    assert.match(r.stderr, /https:\/\/HOST\/PATH\/FILE\.gguf/);
    const bad = await lode(["pull", "https://example.com/m.gguf#sha256=zz", "--json"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.events[0]?.code, "INVALID_REF");
  });
});

Deno.test("two processes pulling the same model: one download, both succeed, one blob", async () => {
  const routes = {
    "/m.gguf": { body: BYTES, fault: { kind: "stall" as const, afterBytes: 65536, ms: 1500 } },
  };
  await withWorld(routes, async ({ ca, origin, store }) => {
    const args = ["--ca-cert", ca.caCertPath, "pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--json"];
    const a = spawnLode(args, { store });
    const b = spawnLode(args, { store });
    const [ra, rb] = await Promise.all([finish(a), finish(b)]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(gets(origin, "/m.gguf"), 1);
    const waited = [ra, rb].filter((r) => r.events.some((e) => e.event === "waiting"));
    assert.equal(waited.length, 1);
    assert.deepEqual(await listTree(`${store}/blobs`), [BLOB.slice("blobs/".length)]);
  });
});

Deno.test("--no-wait fails with LOCK_CONTENDED (exit 7) while another process holds the model", async () => {
  const routes = {
    "/m.gguf": { body: BYTES, fault: { kind: "stall" as const, afterBytes: 65536, ms: 2000 } },
  };
  await withWorld(routes, async ({ ca, origin, store, lode }) => {
    const holder = spawnLode(["--ca-cert", ca.caCertPath, "pull", `${origin.url}/m.gguf#sha256=${SHA}`], {
      store,
    });
    while (gets(origin, "/m.gguf") === 0) await new Promise((r) => setTimeout(r, 20));
    const r = await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--no-wait", "--json"]);
    assert.equal(r.code, 7);
    assert.equal(r.events.find((e) => e.event === "failed")?.code, "LOCK_CONTENDED");
    assert.equal((await finish(holder)).code, 0);
  });
});

Deno.test("a pull killed with SIGKILL halfway leaves no manifest and no blob; the next pull succeeds", async () => {
  const routes = {
    "/m.gguf": {
      body: BYTES,
      fault: { kind: "stall" as const, afterBytes: 500_000, ms: 30_000 },
      faultTimes: 1,
    },
  };
  await withWorld(routes, async ({ ca, origin, store, lode }) => {
    const child = spawnLode(["--ca-cert", ca.caCertPath, "pull", `${origin.url}/m.gguf#sha256=${SHA}`], {
      store,
    });
    const partial = `${store}/blobs/sha256/27/.partial-${SHA}/data.tmp`;
    const deadline = Date.now() + 15_000;
    // The stall comes after 500 kB: wait until the partial exists and the origin is mid-body.
    while (!(await Deno.stat(partial).then(() => true, () => false)) || gets(origin, "/m.gguf") === 0) {
      assert.ok(Date.now() < deadline, "the pull never started writing");
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGKILL");
    await finish(child);
    const tree = await listTree(store);
    assert.ok(!tree.some((p) => p.startsWith("manifests/")), tree.join("\n"));
    assert.ok(!tree.includes(BLOB), tree.join("\n"));
    const r = await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await Deno.readFile(`${store}/${BLOB}`), BYTES);
  });
});

Deno.test("a blob corrupted on disk: verify quarantines it and exits 4; pull NAME repairs it", async () => {
  await withWorld({ "/m.gguf": { body: BYTES } }, async ({ origin, store, lode }) => {
    assert.equal((await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`])).code, 0);
    assert.equal((await lode(["verify", "m"])).code, 0);
    const path = `${store}/${BLOB}`;
    await Deno.chmod(path, 0o644);
    using f = await Deno.open(path, { write: true });
    await f.seek(1000, Deno.SeekMode.Start);
    await f.write(new Uint8Array([0xff, 0x00, 0xff]));
    const r = await lode(["verify", "--all", "--json"]);
    assert.equal(r.code, 4);
    assert.equal(r.events.find((e) => e.event === "verified")?.ok, false);
    const [verified, done, error, ...rest] = storeEvents(r.stdout);
    assert.equal(rest.length, 0);
    assert.deepEqual(done?.event === "verify_done" && [done.models, done.ok, done.failed], [1, 0, 1]);
    assert.ok(
      verified?.event === "verified" && verified.problem === "DIGEST_MISMATCH" && verified.quarantinePath,
    );
    assert.ok(error?.event === "error" && error.code === "DIGEST_MISMATCH");
    assert.ok((await listTree(`${store}/locks/quarantine`)).some((p) => p.endsWith(".json")));
    assert.equal((await lode(["path", "m"])).code, 9);
    const repaired = await lode(["pull", "m"]);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.deepEqual(await Deno.readFile(path), BYTES);
    assert.equal((await lode(["verify", "m"])).code, 0);
  });
});

Deno.test("a malformed manifest is named in a clear error; ls still lists the others", async () => {
  await withWorld({ "/m.gguf": { body: BYTES } }, async ({ origin, store, lode }) => {
    assert.equal((await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`])).code, 0);
    await Deno.writeTextFile(`${store}/manifests/broken.json`, "{ not json");
    const r = await lode(["ls"]);
    assert.equal(r.code, 9);
    assert.match(r.stdout, /^m\s+1\.1 MiB\s+270cba1bd510\s+gguf/m);
    assert.match(r.stderr, /error\[MANIFEST_INVALID\]: manifest .*broken\.json is not valid JSON/);
    const json = await lode(["ls", "--json"]);
    assert.deepEqual(storeEvents(json.stdout).map((e) => e.event), ["model", "problem"]);
    assert.equal((await lode(["rm", "broken"])).code, 0);
    assert.equal((await lode(["ls"])).code, 0);
  });
});

Deno.test("lode pull A B C: all at once under one budget; one failure does not stop the others", async () => {
  const other = ggufWith(new Uint8Array(300_000).map((_, i) => (i * 7919) % 251));
  const routes = {
    "/a.gguf": { body: BYTES, fault: { kind: "stall" as const, afterBytes: 65536, ms: 600 } },
    "/b.gguf": { body: other, fault: { kind: "stall" as const, afterBytes: 65536, ms: 600 } },
  };
  await withWorld(routes, async ({ origin, store, lode }) => {
    const r = await lode([
      "pull",
      `${origin.url}/a.gguf#sha256=${SHA}`,
      `${origin.url}/b.gguf`,
      `${origin.url}/missing.gguf`,
      "--json",
    ]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const completed = r.events.filter((e) => e.event === "completed").map((e) => e.model).sort();
    assert.deepEqual(completed, ["a", "b"]);
    assert.equal(r.events.find((e) => e.event === "failed")?.model, "missing");
    // Concurrent: both downloads started before either finished.
    const firstDone = r.events.findIndex((e) => e.event === "file_completed");
    assert.equal(r.events.slice(0, firstDone).filter((e) => e.event === "file_started").length, 2);
    assert.deepEqual((await listTree(`${store}/manifests`)).sort(), ["a.json", "b.json"]);
  });
});

Deno.test("wrong bytes already at the CAS path are quarantined and downloaded again; right ones are reused", async () => {
  await withWorld({ "/m.gguf": { body: BYTES } }, async ({ origin, store, lode }) => {
    await Deno.mkdir(`${store}/blobs/sha256/27/${SHA}`, { recursive: true });
    await Deno.writeTextFile(`${store}/${BLOB}`, "not the model");
    const r = await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await Deno.readFile(`${store}/${BLOB}`), BYTES);
    const records = (await listTree(`${store}/locks/quarantine`)).filter((p) => p.endsWith(".json"));
    assert.equal(records.length, 1);
    assert.equal(
      JSON.parse(await Deno.readTextFile(`${store}/locks/quarantine/${records[0]}`)).reason,
      "corrupt_on_disk",
    );
    // A second name for the same bytes reuses the blob lode wrote without hashing it again (its verified
    // record is not rewritten), and makes no request.
    const record = `${store}/locks/verified/sha256-${SHA}.json`;
    const written = await Deno.stat(record);
    const before = gets(origin, "/m.gguf");
    assert.equal((await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--name", "again"])).code, 0);
    assert.equal(gets(origin, "/m.gguf"), before);
    assert.equal((await Deno.stat(record)).ino, written.ino, "a blob lode wrote was hashed again");
    // The same bytes put back as another file (a restored cache) are not trusted: re-hashed, then reused.
    await Deno.copyFile(`${store}/${BLOB}`, `${store}/${BLOB}.copy`);
    await Deno.rename(`${store}/${BLOB}.copy`, `${store}/${BLOB}`);
    assert.equal((await lode(["pull", `${origin.url}/m.gguf#sha256=${SHA}`, "--name", "third"])).code, 0);
    assert.equal(gets(origin, "/m.gguf"), before);
    assert.notEqual((await Deno.stat(record)).ino, written.ino, "a replaced blob file was trusted unhashed");
  });
});

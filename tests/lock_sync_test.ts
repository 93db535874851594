/**
 * `lode lock` and `lode sync` end to end: the real CLI in child processes, a real HTTPS origin on
 * loopback, and the CI cycle — sync, archive the store with tar, wipe it, restore it, sync offline and
 * frozen (no socket opened, everything re-hashed), then a corrupted blob in the archive repaired.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { SyncEvent } from "../src/events/lock_event.ts";
import { makeTestCa, type TestCa } from "./support/test_ca.ts";
import { type Origin, startOrigin } from "./support/origin.ts";
import { runLode } from "./support/lode_cli.ts";
import { ggufWith } from "./support/gguf_bytes.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const STORIES = await Deno.readFile(FIXTURE);
const STORIES_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const OTHER = ggufWith(new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24));
const OTHER_SHA = createHash("sha256").update(OTHER).digest("hex");

interface World {
  ca: TestCa;
  origin: Origin;
  dir: string;
  store: string;
  lockfile: string;
  /** Runs lode with the test CA, the world's store and lockfile. */
  lode(
    args: string[],
    options?: { env?: Record<string, string>; store?: string },
  ): ReturnType<typeof runLode>;
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-lock-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({
    tls: ca,
    routes: { "/m/stories260K.gguf": { body: STORIES }, "/m/other.gguf": { body: OTHER } },
  });
  const store = `${dir}/store`;
  const lockfile = `${dir}/project/lode.lock`;
  await Deno.mkdir(`${dir}/project`);
  try {
    await body({
      ca,
      origin,
      dir,
      store,
      lockfile,
      lode: (args, options = {}) =>
        runLode(["--ca-cert", ca.caCertPath, ...args], {
          store: options.store ?? store,
          env: { LODE_LOCKFILE: lockfile, ...options.env },
        }),
    });
  } finally {
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function gets(origin: Origin, path: string): number {
  return origin.requests.filter((r) => r.method === "GET" && r.path === path).length;
}

function syncEvents(events: Record<string, unknown>[], kind: string): Record<string, unknown>[] {
  return events.filter((e) => e.event === kind).map((e) => SyncEvent.parse(e) as Record<string, unknown>);
}

function statuses(
  events: Record<string, unknown>[],
  kind: "sync_check" | "sync_model",
): Record<string, string> {
  return Object.fromEntries(syncEvents(events, kind).map((e) => [e.model as string, e.status as string]));
}

/** A TCP listener that counts the connections it accepts (and closes them): a proxy nobody may use. */
function countingListener(): { url: string; count: () => number; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  (async () => {
    for await (const conn of listener) {
      accepted++;
      conn.close();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    count: () => accepted,
    close: () => listener.close(),
  };
}

async function tar(args: string[]): Promise<void> {
  const r = await new Deno.Command("tar", { args, stderr: "piped" }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

async function lockAddBoth(w: World): Promise<void> {
  const a = await w.lode(["lock", "add", `${w.origin.url}/m/stories260K.gguf#sha256=${STORIES_SHA}`]);
  assert.equal(a.code, 0, a.stderr);
  const b = await w.lode(["lock", "add", `${w.origin.url}/m/other.gguf`, "--name", "other", "--json"]);
  assert.equal(b.code, 0, b.stderr);
}

Deno.test("lock add pins (downloading only to learn a hash or size); lock key; lock rm", async () => {
  await withWorld(async (w) => {
    const added = await w.lode(["lock", "add", `${w.origin.url}/m/other.gguf`, "--name", "other", "--json"]);
    assert.equal(added.code, 0, added.stderr);
    const [event] = syncEvents(added.events, "lock_added");
    assert.deepEqual(event?.files, [{ filename: "other.gguf", sha256: OTHER_SHA, size_bytes: OTHER.length }]);
    assert.equal(event?.downloaded, true);
    assert.equal(event?.replaced, false);
    const a = await w.lode(["lock", "add", `${w.origin.url}/m/stories260K.gguf#sha256=${STORIES_SHA}`]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^locked stories260K in .*lode\.lock\n {2}stories260K\.gguf {2}sha256:270cba/);
    const lock = JSON.parse(await Deno.readTextFile(w.lockfile));
    assert.equal(lock.lockfile_version, 1);
    assert.deepEqual(lock.models.map((m: { name: string }) => m.name), ["other", "stories260K"]);
    assert.deepEqual(lock.models[1].files, [{
      role: "model",
      filename: "stories260K.gguf",
      url: `${w.origin.url}/m/stories260K.gguf`,
      sha256: STORIES_SHA,
      size: STORIES.length,
    }]);
    assert.equal(lock.models[1].reference, `${w.origin.url}/m/stories260K.gguf#sha256=${STORIES_SHA}`);

    // The key ignores formatting and order.
    const key = await w.lode(["lock", "key"]);
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stdout, /^lode-[0-9a-f]{64}\n$/);
    lock.models.reverse();
    await Deno.writeTextFile(w.lockfile, JSON.stringify(lock));
    const again = await w.lode(["lock", "key", "--json"]);
    assert.equal(syncEvents(again.events, "lock_key")[0]?.key, key.stdout.trim());

    // Adding it again replaces the entry without downloading (the store has it).
    const before = gets(w.origin, "/m/other.gguf");
    const re = await w.lode(["lock", "add", `${w.origin.url}/m/other.gguf`, "--name", "other", "--json"]);
    assert.equal(re.code, 0, re.stderr);
    assert.equal(syncEvents(re.events, "lock_added")[0]?.replaced, true);
    assert.equal(syncEvents(re.events, "lock_added")[0]?.downloaded, false);
    assert.equal(gets(w.origin, "/m/other.gguf"), before);

    const rm = await w.lode(["lock", "rm", "other"]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stderr, /lode rm other/);
    const after = JSON.parse(await Deno.readTextFile(w.lockfile));
    assert.deepEqual(after.models.map((m: { name: string }) => m.name), ["stories260K"]);
    const missing = await w.lode(["lock", "rm", "other", "--json"]);
    assert.equal(missing.code, 3);
    assert.equal(missing.events.find((e) => e.event === "error")?.code, "MODEL_NOT_FOUND");
    assert.ok(await Deno.stat(`${w.store}/manifests/other.json`), "lock rm leaves the store alone");

    const usage = await w.lode(["lock", "frob"]);
    assert.equal(usage.code, 2);
  });
});

Deno.test("a malformed lockfile: LOCKFILE_INVALID names the line and field; a missing one LOCKFILE_NOT_FOUND", async () => {
  await withWorld(async (w) => {
    const none = await w.lode(["sync", "--json"]);
    assert.equal(none.code, 3);
    assert.equal(none.events.find((e) => e.event === "error")?.code, "LOCKFILE_NOT_FOUND");
    await Deno.writeTextFile(
      w.lockfile,
      '{\n  "lockfile_version": 1,\n  "models": [\n    {"name": 3}\n  ]\n}\n',
    );
    const r = await w.lode(["sync"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /error\[LOCKFILE_INVALID\]: lockfile .*lode\.lock is invalid \(6 problems\):\n {2}line 4, models\[0\]\.name: expected a string, found 3\n {2}line 4, models\[0\]\.reference: missing/,
    );
    await Deno.writeTextFile(w.lockfile, '{\n  "lockfile_version": 1,\n  "models": [,]\n}\n');
    const syntax = await w.lode(["lock", "key", "--json"]);
    assert.equal(syntax.code, 2);
    const error = syntax.events.find((e) => e.event === "error");
    assert.equal((error?.details as Record<string, unknown>).line, 3);
  });
});

Deno.test("CI cycle: sync, tar the store, wipe, restore, sync --offline --frozen, repair a corrupt blob", async () => {
  await withWorld(async (w) => {
    await lockAddBoth(w);
    const ci = `${w.dir}/ci-store`;
    const lode = (args: string[], env?: Record<string, string>) => w.lode(args, { store: ci, env });

    // First CI run: nothing cached; both models are pulled at once.
    const first = await lode(["sync", "--frozen", "--json"]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.deepEqual(statuses(first.events, "sync_model"), { other: "pulled", stories260K: "pulled" });
    assert.deepEqual(statuses(first.events, "sync_check"), { other: "missing", stories260K: "missing" });

    // Warm: lode wrote both blobs, so nothing is re-hashed and no request is made.
    const requests = w.origin.requests.length;
    const warm = await lode(["sync", "--frozen", "--json"]);
    assert.equal(warm.code, 0, warm.stderr);
    assert.deepEqual(statuses(warm.events, "sync_check"), { other: "trusted", stories260K: "trusted" });
    assert.deepEqual(statuses(warm.events, "sync_model"), { other: "ok", stories260K: "ok" });
    const done = syncEvents(warm.events, "sync_completed")[0]!;
    assert.equal(done.hashed_bytes, 0);
    assert.equal(done.trusted, 2);
    assert.equal(w.origin.requests.length, requests);

    // Save the cache, wipe the store, restore it (what actions/cache does).
    const archive = `${w.dir}/cache.tar`;
    await tar(["-C", ci, "-cf", archive, "."]);
    await Deno.remove(ci, { recursive: true });
    await Deno.mkdir(ci);
    await tar(["-C", ci, "-xf", archive]);

    // Offline and frozen, through a proxy nobody may use: no connection, every restored blob re-hashed.
    const proxy = countingListener();
    try {
      const connections = w.origin.connections;
      const env = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url };
      const restored = await lode(["sync", "--offline", "--frozen", "--json"], env);
      assert.equal(restored.code, 0, restored.stdout + restored.stderr);
      assert.deepEqual(statuses(restored.events, "sync_check"), {
        other: "verified",
        stories260K: "verified",
      });
      assert.deepEqual(statuses(restored.events, "sync_model"), { other: "ok", stories260K: "ok" });
      const summary = syncEvents(restored.events, "sync_completed")[0]!;
      assert.equal(summary.hashed_bytes, STORIES.length + OTHER.length);
      assert.equal(typeof summary.check_ms, "number");
      const text = await lode(["sync", "--offline", "--frozen"], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /checked 2 blob\(s\) in \d+ ms: 2 trusted \(written by lode\), 0 re-hashed/);
      assert.equal(w.origin.connections, connections);
      assert.equal(proxy.count(), 0);

      // One blob corrupted inside the archive.
      const scratch = `${w.dir}/scratch`;
      await Deno.mkdir(scratch);
      await tar(["-C", scratch, "-xf", archive]);
      const blob = `${scratch}/blobs/sha256/${OTHER_SHA.slice(0, 2)}/${OTHER_SHA}/data`;
      await Deno.chmod(blob, 0o644);
      using file = await Deno.open(blob, { read: true, write: true });
      await file.seek(1000, Deno.SeekMode.Start);
      await file.write(new Uint8Array([OTHER[1000]! ^ 0xff]));
      file.close();
      await tar(["-C", scratch, "-cf", archive, "."]);
      await Deno.remove(ci, { recursive: true });
      await Deno.mkdir(ci);
      await tar(["-C", ci, "-xf", archive]);

      // Offline: it fails clearly, naming what is missing; the bad bytes are in quarantine.
      const offline = await lode(["sync", "--offline", "--frozen", "--json"], env);
      assert.equal(offline.code, 6, offline.stdout + offline.stderr);
      const checks = syncEvents(offline.events, "sync_check");
      assert.equal(checks.find((c) => c.model === "other")?.status, "corrupt");
      assert.ok(checks.find((c) => c.model === "other")?.quarantine_path);
      assert.equal(checks.find((c) => c.model === "stories260K")?.status, "verified");
      const error = offline.events.find((e) => e.event === "error")!;
      assert.equal(error.code, "OFFLINE");
      assert.match(
        error.message as string,
        /other: other\.gguf sha256:[0-9a-f]{12} \(corrupt; quarantined\)/,
      );
      assert.deepEqual((error.details as { missing: string[] }).missing.length, 1);
      const textOffline = await lode(["sync", "--offline", "--frozen"], env);
      assert.equal(textOffline.code, 6);
      assert.match(
        textOffline.stderr,
        /error\[OFFLINE\]: offline: 1 file\(s\) are not in the store.*\n {2}other: other\.gguf/,
      );
      assert.equal(w.origin.connections, connections);
      assert.equal(proxy.count(), 0);
    } finally {
      proxy.close();
    }

    // Online and frozen: only the corrupt blob is downloaded again.
    const storiesGets = gets(w.origin, "/m/stories260K.gguf");
    const otherGets = gets(w.origin, "/m/other.gguf");
    const repair = await lode(["sync", "--frozen", "--json"]);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.deepEqual(statuses(repair.events, "sync_model"), { other: "pulled", stories260K: "ok" });
    assert.equal(gets(w.origin, "/m/stories260K.gguf"), storiesGets);
    assert.ok(gets(w.origin, "/m/other.gguf") > otherGets);
    const verify = await lode(["verify", "--all"]);
    assert.equal(verify.code, 0, verify.stderr);
  });
});

Deno.test("--frozen refuses an unpinned lockfile before any connection; sync without it pins and rewrites", async () => {
  await withWorld(async (w) => {
    const url = `${w.origin.url}/m/other.gguf`;
    const handWritten = {
      lockfile_version: 1,
      models: [{
        name: "other",
        reference: url,
        registry: "x",
        repo: "",
        revision: "",
        files: [{ role: "model", filename: "other.gguf", url }],
      }],
    };
    await Deno.writeTextFile(w.lockfile, JSON.stringify(handWritten, null, 2));
    const frozen = await w.lode(["sync", "--frozen", "--json"]);
    assert.equal(frozen.code, 6, frozen.stdout + frozen.stderr);
    const error = frozen.events.find((e) => e.event === "error");
    assert.equal(error?.code, "LOCKFILE_FROZEN");
    assert.match(error?.message as string, /other: other\.gguf/);
    assert.equal(w.origin.connections, 0);
    assert.equal(await Deno.readTextFile(w.lockfile), JSON.stringify(handWritten, null, 2));

    const unknown = await w.lode(["sync", "nope"]);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no entry named "nope"/);

    const pin = await w.lode(["sync"]);
    assert.equal(pin.code, 0, pin.stderr);
    assert.match(pin.stderr, /pinned unpinned files/);
    const lock = JSON.parse(await Deno.readTextFile(w.lockfile));
    assert.equal(lock.models[0].files[0].sha256, OTHER_SHA);
    assert.equal(lock.models[0].files[0].size, OTHER.length);
    const now = await w.lode(["sync", "--frozen", "--json"]);
    assert.equal(now.code, 0, now.stderr);
    assert.deepEqual(statuses(now.events, "sync_model"), { other: "ok" });
  });
});

Deno.test("sync points a store name at the locked bytes, and links a restored blob without a manifest", async () => {
  await withWorld(async (w) => {
    await lockAddBoth(w);
    // The store's "stories260K" now names other bytes (an older version, say).
    await Deno.writeFile(`${w.dir}/old.gguf`, OTHER);
    const imported = await w.lode(["import", `${w.dir}/old.gguf`, "--name", "stories260K"]);
    assert.equal(imported.code, 0, imported.stderr);
    // And "other" has its blob but lost its manifest.
    await Deno.remove(`${w.store}/manifests/other.json`);
    const requests = w.origin.requests.length;
    const r = await w.lode(["sync", "--frozen", "--offline", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(statuses(r.events, "sync_model"), { other: "linked", stories260K: "linked" });
    const manifest = JSON.parse(await Deno.readTextFile(`${w.store}/manifests/stories260K.json`));
    assert.equal(manifest.blob, `sha256:${STORIES_SHA}`);
    assert.ok(await Deno.stat(`${w.store}/manifests/other.json`));
    assert.equal(w.origin.requests.length, requests);
  });
});

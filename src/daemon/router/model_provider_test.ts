import assert from "node:assert/strict";
import { HostPolicy } from "../../download/host_policy.ts";
import type { Envelope } from "../../events/envelope.ts";
import { EventStream } from "../../events/event_stream.ts";
import type { StatusEvent } from "../../events/status_event.ts";
import type { Lockfile } from "../../lock/lockfile.ts";
import { ModelStore } from "../../store/model_store.ts";
import { createModelProvider, throttleDownloads } from "./model_provider.ts";
import { startOrigin } from "../../../tests/support/origin.ts";
import { STORIES_FILE } from "../../../tests/support/serve_process.ts";
import { makeTestCa } from "../../../tests/support/test_ca.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";

const STORIES = await Deno.readFile(STORIES_FILE);

const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const LOCK: Lockfile = {
  lockfile_version: 1,
  models: [{
    name: "tiny",
    reference: "https://example.invalid/tiny.gguf",
    registry: "example.invalid",
    repo: "",
    revision: "",
    files: [{ role: "model", filename: "tiny.gguf", url: "https://example.invalid/tiny.gguf", sha256: SHA }],
  }],
};

async function withProvider(
  options: { lock?: Lockfile | null; references?: boolean },
  body: (provide: ReturnType<typeof createModelProvider>, calls: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-provider-" });
  const calls: string[] = [];
  try {
    const store = await ModelStore.open(dir);
    const provide = createModelProvider({
      store,
      lockfile: () => Promise.resolve(options.lock ?? null),
      // Offline: any pull fails before a connection; the calls say which effects were asked for.
      pullContext: (urls) => {
        calls.push(`pull ${urls.join(" ")}`);
        return Promise.resolve({ store, policy: new HostPolicy({ offline: true }) });
      },
      registryContext: (hosts) => {
        calls.push(`registry ${hosts.join(" ")}`);
        return Promise.reject(new Error("no registry here"));
      },
      offline: true,
      ...(options.references === undefined ? {} : { references: options.references }),
    });
    await body(provide, calls);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const NO_STATUS = { signal: new AbortController().signal, onStatus: () => {} };

Deno.test("provider: a name no lockfile pins, a file: reference, and references when disabled are unknown (null)", async () => {
  await withProvider({ lock: LOCK, references: false }, async (provide, calls) => {
    assert.equal(await provide("other", NO_STATUS), null);
    assert.equal(await provide("file:/tmp/m.gguf", NO_STATUS), null);
    assert.equal(await provide("https://example.invalid/m.gguf", NO_STATUS), null);
    assert.deepEqual(calls, []);
  });
  await withProvider({ lock: null }, async (provide) => {
    assert.equal(await provide("tiny", NO_STATUS), null);
  });
});

Deno.test("provider: offline, a locked name that needs bytes fails with OFFLINE and the store stays empty", async () => {
  await withProvider({ lock: LOCK }, async (provide, calls) => {
    await assert.rejects(
      () => provide("tiny", NO_STATUS),
      (e: Error & { code?: string }) => e.code === "OFFLINE",
    );
    assert.deepEqual(calls, [], "offline sync lists what is missing without pulling");
  });
});

Deno.test("provider: a reference that is not valid fails with INVALID_REF", async () => {
  await withProvider({}, async (provide) => {
    await assert.rejects(
      () => provide("ftp://x/y", NO_STATUS),
      (e: Error & { code?: string }) => e.code === "INVALID_REF",
    );
  });
});

Deno.test("throttleDownloads: at most one download frame per interval, the last of a file always; other phases pass, a repeat does not", () => {
  let t = 0;
  const seen: StatusEvent[] = [];
  const emit = throttleDownloads((e) => seen.push(e), { intervalMs: 100, now: () => t });
  const download = (bytes: number): StatusEvent => ({
    status: "loading_model",
    phase: "download",
    downloaded_bytes: bytes,
    total_bytes: 1000,
    source_url: "https://h/m",
  });
  for (let i = 0; i < 10; i++) {
    t = i * 30;
    emit(download(i * 10));
  }
  emit({ status: "loading_model", phase: "verify", path: "/p" });
  emit({ status: "loading_model", phase: "verify", path: "/p" });
  emit(download(1000));
  const bytes = seen.map((e) => ("downloaded_bytes" in e ? e.downloaded_bytes : e.status));
  assert.deepEqual(bytes, [0, 40, 80, "loading_model", 1000]);
});

Deno.test("provider: a pull through the daemon publishes its download events once on the daemon's stream; the load's download phases are derived from them", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const origin = await startOrigin({ tls: ca, routes: { "/m/stories260K.gguf": { body: STORIES } } });
    const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
    try {
      const store = await ModelStore.open(`${dir}/store`);
      const url = `${origin.url}/m/stories260K.gguf`;
      const file = { ...LOCK.models[0]!.files[0]!, url, size: STORIES.length };
      const lock: Lockfile = { ...LOCK, models: [{ ...LOCK.models[0]!, reference: url, files: [file] }] };
      const events = new EventStream();
      const envelopes: Envelope[] = [];
      events.listen((e) => envelopes.push(e));
      const provide = createModelProvider({
        store,
        pullContext: (urls) =>
          Promise.resolve({
            store,
            policy: new HostPolicy({ allowHosts: urls.map((u) => new URL(u).hostname) }),
            clientFor: () => client,
          }),
        registryContext: () => Promise.reject(new Error("no registry here")),
        lockfile: () => Promise.resolve(lock),
        events,
        statusIntervalMs: 0,
      });
      const statuses: StatusEvent[] = [];
      const got = await provide("tiny", {
        signal: new AbortController().signal,
        onStatus: (e) => statuses.push(e),
      });
      assert.equal(got?.path !== undefined, true);
      assert.deepEqual(new Set(envelopes.map((e) => e.source)), new Set(["download"]));
      const kinds = envelopes.map((e) => e.event.event);
      assert.equal(kinds.includes("file_started"), true);
      assert.equal(kinds.includes("file_completed"), true);
      const progress = envelopes.flatMap((e) =>
        e.source === "download" && e.event.event === "file_progress" ? [e.event.downloaded_bytes] : []
      );
      assert.equal(progress.at(-1), STORIES.length);
      const phases = statuses.flatMap((s) =>
        s.status === "loading_model" && s.phase === "download" ? [s] : []
      );
      assert.deepEqual(phases.map((p) => p.downloaded_bytes), progress, "one phase per progress event");
      assert.equal(phases.at(-1)!.source_url, url);
    } finally {
      client.close();
      await origin.close();
    }
  });
});

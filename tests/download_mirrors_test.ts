/**
 * Mirrors against real HTTPS origins on loopback: a planned file with several URLs of the same bytes,
 * tried in order. The first refuses connections, dies mid-download (the second continues from the
 * partial, fetching only the rest), serves wrong bytes (quarantined; the second starts clean) or
 * serves another size; when every URL fails, the last error names each, the store is unchanged and
 * the partial kept. Credentials go only to the origin they were given for.
 */
import assert from "node:assert/strict";
import type { DownloadEvent } from "../src/events/download_event.ts";
import type { PullFile } from "../src/download/fetch_blob.ts";
import type { PullContext } from "../src/download/pull_context.ts";
import { pullFiles } from "../src/download/pull_model.ts";
import { ModelStore } from "../src/store/model_store.ts";
import { ResumeState } from "../src/download/resume_state.ts";
import {
  engineTest,
  type EngineWorld,
  FIRST_PART,
  getsOf,
  lodeErrorOf,
  randomModel,
  rangeBytes,
  sha256,
  withEngine,
} from "./support/engine_world.ts";
import { type Route, startOrigin } from "./support/origin.ts";
import { makeTestCa } from "./support/test_ca.ts";

const MiB = 1024 * 1024;
const BODY = randomModel(FIRST_PART + 8 * MiB + 4321);
const SHA = sha256(BODY);

/** A URL on 127.0.0.1 where nothing listens (connections are refused). */
function refusedUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `https://127.0.0.1:${port}/f`;
}

type Mirrored = Pick<PullFile, "url" | "mirrors" | "headers" | "sizeBytes"> & { sha256?: string };

/** Pulls one file with its mirrors into the world's store; every event goes to `events` (and `onEvent`). */
async function pullMirrored(
  w: EngineWorld,
  file: Mirrored,
  events: DownloadEvent[],
  onEvent?: (e: DownloadEvent, store: ModelStore) => void,
) {
  const store = await ModelStore.open(w.store);
  const o = w.options();
  const ctx: PullContext = {
    store,
    policy: o.policy,
    clientFor: o.clientFor,
    send: o.send,
    connections: 2,
    retry: o.retry,
    stallMs: o.stallMs,
    progressIntervalMs: 0,
    emit: (e) => {
      events.push(e);
      onEvent?.(e, store);
    },
  };
  const planned = { role: "model", filename: "m.gguf", sha256: SHA, ...file };
  const pull = pullFiles({
    name: "m",
    files: [planned],
    source: { registry: "test", repo: "", revision: "", filename: "m.gguf", url: file.url },
  }, ctx);
  return { pull, store };
}

const mirrorEvents = (events: DownloadEvent[]) =>
  events.filter((e): e is Extract<DownloadEvent, { event: "mirror_failed" }> => e.event === "mirror_failed");

const served = (w: EngineWorld, origin: "origin" | "second") =>
  getsOf(w[origin]!, "/f").reduce((sum, r) => sum + r.sentBytes, 0);

engineTest("mirrors: the first refuses connections, the second serves", async () => {
  await withEngine({}, async (w) => {
    const events: DownloadEvent[] = [];
    const first = refusedUrl();
    const { pull } = await pullMirrored(w, { url: first, mirrors: [`${w.second!.url}/f`] }, events);
    const result = await pull;
    assert.equal(result.sha256, SHA);
    const [failed, ...more] = mirrorEvents(events);
    assert.equal(more.length, 0);
    assert.equal(failed?.code, "NETWORK");
    assert.equal(failed?.url, first);
    assert.equal(failed?.next_url, `${w.second!.url}/f`);
    assert.equal(served(w, "second"), BODY.length);
  }, { second: { "/f": { body: BODY } } });
});

engineTest("mirrors: the first dies mid-download, the second fetches only the rest", async () => {
  const slow: Route = { body: BODY, fault: { kind: "throttle", chunkBytes: 64 * 1024, delayMs: 4 } };
  await withEngine({ "/f": slow }, async (w) => {
    const events: DownloadEvent[] = [];
    let closing: Promise<void> | undefined;
    let doneAtSwitch = -1;
    const { pull } = await pullMirrored(
      w,
      { url: `${w.origin.url}/f`, mirrors: [`${w.second!.url}/f`], sizeBytes: BODY.length },
      events,
      (e, store) => {
        if (e.event === "file_progress" && e.downloaded_bytes >= FIRST_PART + MiB) {
          closing ??= w.origin.close();
        }
        if (e.event === "mirror_failed") {
          // The sidecar the first URL's run left: what the second must not fetch again.
          const text = Deno.readTextFileSync(`${store.layout.partialDir(SHA)}/state.json`);
          const state = ResumeState.parse(JSON.parse(text));
          doneAtSwitch = state.parts.reduce((sum, p) => sum + p.done, 0);
        }
      },
    );
    const result = await pull;
    await closing;
    assert.equal(result.sha256, SHA);
    assert.equal(mirrorEvents(events).map((e) => e.code).join(), "NETWORK");
    assert.ok(doneAtSwitch >= FIRST_PART, `kept ${doneAtSwitch} bytes from the first URL`);
    const fromSecond = getsOf(w.second!, "/f");
    assert.equal(rangeBytes(fromSecond), BODY.length - doneAtSwitch);
    assert.equal(served(w, "second"), BODY.length - doneAtSwitch);
  }, { second: { "/f": { body: BODY } } });
});

engineTest("mirrors: wrong bytes from the first are quarantined, the second starts clean", async () => {
  await withEngine({ "/f": { body: BODY, fault: { kind: "corrupt", offset: 1000 } } }, async (w) => {
    const events: DownloadEvent[] = [];
    const { pull, store } = await pullMirrored(
      w,
      { url: `${w.origin.url}/f`, mirrors: [`${w.second!.url}/f`] },
      events,
    );
    const result = await pull;
    assert.equal(result.sha256, SHA);
    assert.equal(mirrorEvents(events).map((e) => e.code).join(), "DIGEST_MISMATCH");
    const quarantined = [...Deno.readDirSync(store.layout.quarantineDir)];
    assert.ok(quarantined.length > 0, "the wrong bytes are in quarantine");
    assert.equal(served(w, "second"), BODY.length, "the second URL served the whole file");
  }, { second: { "/f": { body: BODY } } });
});

engineTest("mirrors: a mirror serving another size than the plan's is skipped", async () => {
  const other = randomModel(BODY.length + 1);
  await withEngine({ "/f": { body: other } }, async (w) => {
    const events: DownloadEvent[] = [];
    const { pull } = await pullMirrored(
      w,
      { url: `${w.origin.url}/f`, mirrors: [`${w.second!.url}/f`], sizeBytes: BODY.length },
      events,
    );
    assert.equal((await pull).sha256, SHA);
    assert.equal(mirrorEvents(events).map((e) => e.code).join(), "SIZE_MISMATCH");
    assert.ok(served(w, "origin") < other.length, "no more than the probe was read from the first");
  }, { second: { "/f": { body: BODY } } });
});

engineTest("mirrors: all fail → the last error names each URL; store unchanged, partial kept", async () => {
  const slow: Route = { body: BODY, fault: { kind: "throttle", chunkBytes: 64 * 1024, delayMs: 4 } };
  await withEngine({ "/f": slow }, async (w) => {
    const events: DownloadEvent[] = [];
    let closing: Promise<void> | undefined;
    const refused = refusedUrl();
    const { pull, store } = await pullMirrored(
      w,
      { url: `${w.origin.url}/f`, mirrors: [refused, `${w.second!.url}/f`] },
      events,
      (e) => {
        if (e.event === "file_progress" && e.downloaded_bytes >= FIRST_PART) closing ??= w.origin.close();
      },
    );
    const error = await lodeErrorOf(pull);
    await closing;
    assert.equal(error.code, "HTTP_NOT_FOUND", `${error.code}: ${error.message}`);
    assert.deepEqual(
      (error.details.mirrors as { code: string }[]).map((m) => m.code),
      ["NETWORK", "NETWORK", "HTTP_NOT_FOUND"],
    );
    assert.equal(mirrorEvents(events).length, 2);
    assert.equal(await store.hasBlob(SHA), false);
    assert.equal(await store.readManifest("m"), null);
    const state = ResumeState.parse(
      JSON.parse(await Deno.readTextFile(`${store.layout.partialDir(SHA)}/state.json`)),
    );
    assert.ok(state.parts.reduce((sum, p) => sum + p.done, 0) >= FIRST_PART, "the partial is kept");
  }, { second: { "/f": { status: 404 } } });
});

engineTest("mirrors: credentials go only to URLs on the origin they were given for", async () => {
  await withEngine({ "/gone": { status: 404 }, "/f": { status: 503 } }, async (w) => {
    const events: DownloadEvent[] = [];
    const { pull } = await pullMirrored(w, {
      url: `${w.origin.url}/gone`,
      mirrors: [`${w.origin.url}/f`, `${w.second!.url}/f`],
      headers: { authorization: "Bearer secret" },
    }, events);
    assert.equal((await pull).sha256, SHA);
    const sameOrigin = w.origin.requests.filter((r) => r.method === "GET");
    assert.ok(sameOrigin.length >= 2);
    for (const r of sameOrigin) assert.equal(r.headers["authorization"], "Bearer secret", r.path);
    const elsewhere = getsOf(w.second!, "/f");
    assert.ok(elsewhere.length > 0);
    for (const r of elsewhere) assert.equal(r.headers["authorization"], undefined);
    assert.deepEqual(mirrorEvents(events).map((e) => [e.code, e.status]), [
      ["HTTP_NOT_FOUND", 404],
      ["HTTP_STATUS", 503],
    ]);
  }, { second: { "/f": { body: BODY } } });
});

engineTest("mirrors: a cancelled pull does not move to the next URL", async () => {
  const slow: Route = { body: BODY, fault: { kind: "throttle", chunkBytes: 64 * 1024, delayMs: 4 } };
  await withEngine({ "/f": slow }, async (w) => {
    const events: DownloadEvent[] = [];
    const abort = new AbortController();
    const store = await ModelStore.open(w.store);
    const o = w.options();
    const error = await lodeErrorOf(pullFiles({
      name: "m",
      files: [{
        role: "model",
        filename: "m.gguf",
        sha256: SHA,
        url: `${w.origin.url}/f`,
        mirrors: [`${w.second!.url}/f`],
      }],
      source: { registry: "test", repo: "", revision: "", filename: "m.gguf" },
    }, {
      store,
      policy: o.policy,
      clientFor: o.clientFor,
      send: o.send,
      connections: 2,
      retry: o.retry,
      progressIntervalMs: 0,
      signal: abort.signal,
      emit: (e) => {
        events.push(e);
        if (e.event === "file_progress" && e.downloaded_bytes > MiB) abort.abort();
      },
    }));
    assert.equal(error.code, "INTERRUPTED");
    assert.equal(mirrorEvents(events).length, 0);
    assert.equal(getsOf(w.second!, "/f").length, 0);
  }, { second: { "/f": { body: BODY } } });
});

engineTest("mirrors: a TLS failure and a redirect to a host not allowed move on too", async () => {
  await withEngine({ "/away": { redirect: "https://127.0.0.3:9/f" } }, async (w) => {
    // An origin whose certificate no CA of this client signed.
    const stranger = await makeTestCa(`${w.dir}/stranger`, { caName: "stranger CA" });
    const untrusted = await startOrigin({ tls: stranger, routes: { "/f": { body: BODY } } });
    try {
      const events: DownloadEvent[] = [];
      const { pull } = await pullMirrored(w, {
        url: `${untrusted.url}/f`,
        mirrors: [`${w.origin.url}/away`, `${w.second!.url}/f`],
      }, events);
      assert.equal((await pull).sha256, SHA);
      assert.deepEqual(mirrorEvents(events).map((e) => e.code), ["TLS", "HOST_NOT_ALLOWED"]);
      assert.equal(getsOf(untrusted, "/f").length, 0, "no request went over the failed handshake");
    } finally {
      await untrusted.close();
    }
  }, { second: { "/f": { body: BODY } } });
});

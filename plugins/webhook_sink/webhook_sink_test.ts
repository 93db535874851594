import assert from "node:assert/strict";
import { HostPolicy } from "../../src/download/host_policy.ts";
import type { EnvelopeOf } from "../../src/events/envelope.ts";
import { EventStream } from "../../src/events/event_stream.ts";
import type { LodeError } from "../../src/errors.ts";
import { attachSinks } from "../../src/plugin/sink_runner.ts";
import { makeTestCa, type TestCa } from "../../tests/support/test_ca.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../../tests/support/webhook_receiver.ts";
import { importSecret, sign } from "./signature.ts";
import { createWebhookSink, type WebhookSinkOptions } from "./webhook_sink.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FAST = { baseMs: 5, maxMs: 40 };

async function setup(t: (ca: TestCa, dir: string, client: Deno.HttpClient) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-webhook-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
  try {
    await t(ca, dir, client);
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function options(receiver: WebhookReceiver, dir: string, client: Deno.HttpClient): WebhookSinkOptions {
  return {
    url: receiver.url,
    secret: SECRET,
    policy: new HostPolicy().with([receiver.url]),
    clientFor: () => client,
    spoolDir: `${dir}/spool`,
    retry: FAST,
    drainMs: 10_000,
  };
}

function envelope(seq: number, what = `m${seq}`): EnvelopeOf<"download"> {
  return {
    v: 1,
    seq,
    time: 1_765_000_000_000 + seq,
    source: "download",
    event: { event: "waiting", reason: "lock", what },
  };
}

/** Waits until `check` holds, polling on timers (no time limit: the test runner's own applies). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

Deno.test("signature: the Standard Webhooks reference vector", async () => {
  const key = await importSecret(SECRET);
  assert.equal(
    await sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'),
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  );
  for (const bad of ["", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_YWJj"]) {
    await assert.rejects(importSecret(bad, "$LODE_WEBHOOK_SECRET"), (e: LodeError) => {
      assert.equal(e.code, "USAGE");
      assert.match(e.message, /^\$LODE_WEBHOOK_SECRET is not a Standard Webhooks secret/);
      return true;
    });
  }
});

Deno.test("webhook: signed messages in order, one per event, with the Standard Webhooks body", async () => {
  await setup(async (ca, dir, client) => {
    const receiver = await startWebhookReceiver({ tls: ca, secret: SECRET });
    try {
      const sink = await createWebhookSink(options(receiver, dir, client));
      const sent = Math.floor(Date.now() / 1000);
      for (let i = 1; i <= 20; i++) sink.event(envelope(i));
      await sink.close();
      const closed = Math.floor(Date.now() / 1000);
      assert.equal(receiver.received.length, 20);
      assert.ok(receiver.received.every((r) => r.valid), "every signature verifies");
      const bodies = receiver.received.map((r) => JSON.parse(r.body));
      assert.deepEqual(bodies.map((b) => b.data.seq), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(bodies[0], {
        type: "download.waiting",
        timestamp: new Date(1_765_000_000_001).toISOString(),
        data: envelope(1),
      });
      assert.equal(new Set(receiver.received.map((r) => r.id)).size, 20, "one id per message");
      assert.ok(receiver.received.every((r) => /^msg_[0-9a-f]{32}$/.test(r.id)));
      // webhook-timestamp is the time of sending: between the first event and the sink's close.
      assert.ok(receiver.received.every((r) => sent <= r.timestamp && r.timestamp <= closed));
      assert.equal(sink.stats.sent, 20);
    } finally {
      await receiver.stop();
    }
  });
});

Deno.test("webhook: a receiver down, then failing, then back gets every event; retries keep the webhook-id", async () => {
  await setup(async (ca, dir, client) => {
    // Failing: the first 5 requests get 503.
    const receiver = await startWebhookReceiver({
      tls: ca,
      secret: SECRET,
      respond: (_, index) => ({ status: index < 5 ? 503 : 200 }),
    });
    await receiver.stop(); // down: connections refused
    const notices: string[] = [];
    const sink = await createWebhookSink({
      ...options(receiver, dir, client),
      onNotice: (l) => notices.push(l),
    });
    const stream = new EventStream();
    const attached = attachSinks(stream, [sink]);
    for (let i = 0; i < 30; i++) stream.publish("download", envelope(i + 1).event);
    await until(() => sink.stats.failures >= 3); // several attempts against the closed port
    receiver.start();
    await until(() => sink.stats.sent === 30);
    await attached.close();
    const delivered = receiver.received.filter((r) => r.status === 200);
    assert.equal(delivered.length, 30, "every event delivered once the receiver answers");
    assert.deepEqual(
      delivered.map((r) => JSON.parse(r.body).data.seq),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    assert.ok(receiver.received.every((r) => r.valid));
    const first = receiver.received.slice(0, 6);
    assert.deepEqual(first.map((r) => r.status), [503, 503, 503, 503, 503, 200]);
    assert.equal(new Set(first.map((r) => r.id)).size, 1, "the retries of one message carry its webhook-id");
    assert.equal(new Set(first.map((r) => r.body)).size, 1);
    assert.ok(notices.some((l) => l.includes("retrying")), notices.join("\n"));
    assert.ok(notices.some((l) => l.includes("delivering again")), notices.join("\n"));
    await receiver.stop();
  });
});

Deno.test("webhook: undelivered events stay spooled and a restart delivers them with the same ids", async () => {
  await setup(async (ca, dir, client) => {
    const receiver = await startWebhookReceiver({ tls: ca, secret: SECRET });
    await receiver.stop();
    const first = await createWebhookSink({ ...options(receiver, dir, client), drainMs: 0 });
    for (let i = 1; i <= 10; i++) first.event(envelope(i));
    await until(() => first.stats.failures >= 1);
    await first.close();
    assert.equal(first.stats.sent, 0);
    const slot = `${dir}/spool/0`;
    const spooled = await Deno.readTextFile(
      `${slot}/${[...Deno.readDirSync(slot)].find((f) => f.name.startsWith("events-"))!.name}`,
    );
    const ids = spooled.trim().split("\n").map((l) => JSON.parse(l).id);
    assert.equal(ids.length, 10);

    receiver.start();
    const second = await createWebhookSink(options(receiver, dir, client));
    assert.equal(second.stats.waiting, 10, "the restart found the spooled events");
    second.event(envelope(11));
    await second.close();
    assert.deepEqual(receiver.received.map((r) => r.id).slice(0, 10), ids);
    assert.deepEqual(receiver.received.map((r) => JSON.parse(r.body).data.seq), [
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
    ]);
    assert.ok(receiver.received.every((r) => r.valid));

    // Everything delivered: a third run has nothing to send.
    const third = await createWebhookSink(options(receiver, dir, client));
    assert.equal(third.stats.waiting, 0);
    await third.close();
    assert.equal(receiver.received.length, 11);
    await receiver.stop();
  });
});

Deno.test("webhook: 410 Gone disables the endpoint, for later runs too", async () => {
  await setup(async (ca, dir, client) => {
    const receiver = await startWebhookReceiver({
      tls: ca,
      secret: SECRET,
      respond: () => ({ status: 410 }),
    });
    const notices: string[] = [];
    const sink = await createWebhookSink({
      ...options(receiver, dir, client),
      onNotice: (l) => notices.push(l),
    });
    for (let i = 1; i <= 5; i++) sink.event(envelope(i));
    await until(() => sink.stats.disabled);
    sink.event(envelope(6));
    await sink.close();
    assert.equal(receiver.received.length, 1, "nothing is sent after the 410");
    assert.ok(notices.some((l) => l.includes("410 Gone: endpoint disabled")), notices.join("\n"));
    const again = await createWebhookSink({
      ...options(receiver, dir, client),
      onNotice: (l) => notices.push(l),
    });
    assert.equal(again.stats.disabled, true);
    again.event(envelope(7));
    await again.close();
    assert.equal(receiver.received.length, 1);
    assert.ok(notices.some((l) => l.includes(`remove ${dir}/spool/gone`)), notices.join("\n"));
    await receiver.stop();
  });
});

Deno.test("webhook: Retry-After is honoured", async () => {
  await setup(async (ca, dir, client) => {
    const receiver = await startWebhookReceiver({
      tls: ca,
      secret: SECRET,
      respond: (_, index) => index === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 204 },
    });
    const sink = await createWebhookSink({
      ...options(receiver, dir, client),
      retry: { baseMs: 5, maxMs: 60_000 },
    });
    sink.event(envelope(1));
    await until(() => sink.stats.sent === 1);
    await sink.close();
    const [refused, accepted] = receiver.received;
    assert.equal(refused!.status, 429);
    assert.equal(accepted!.id, refused!.id);
    // The backoff alone would have come back after 5 ms at most; Retry-After asked for 1 s.
    assert.ok(accepted!.time - refused!.time >= 950, `retried after ${accepted!.time - refused!.time} ms`);
    await receiver.stop();
  });
});

Deno.test("webhook: only the event types asked for (and stream gaps) are sent", async () => {
  await setup(async (ca, dir, client) => {
    const receiver = await startWebhookReceiver({ tls: ca, secret: SECRET });
    const sink = await createWebhookSink({
      ...options(receiver, dir, client),
      events: ["download.done", "job.*"],
    });
    sink.event(envelope(1));
    sink.event({
      v: 1,
      seq: 2,
      time: 0,
      source: "job",
      event: {
        event: "job_log",
        id: "j1",
        kind: "k",
        at: "2026-01-01T00:00:00Z",
        level: "info",
        message: "x",
      },
    });
    sink.event({
      v: 1,
      seq: 3,
      time: 0,
      source: "stream",
      event: { event: "dropped", count: 2, first_seq: 4, last_seq: 5 },
    });
    await sink.close();
    assert.deepEqual(receiver.received.map((r) => JSON.parse(r.body).type), [
      "job.job_log",
      "stream.dropped",
    ]);
    await receiver.stop();
  });
});

Deno.test("webhook: lode's network policy — plain http refused unless allowed, hosts not named refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const base = { secret: SECRET, spoolDir: dir };
    await assert.rejects(
      createWebhookSink({
        ...base,
        url: "http://127.0.0.1:9/hook",
        policy: new HostPolicy().with(["http://127.0.0.1:9/"]),
      }),
      (e: LodeError) => e.code === "INSECURE_URL",
    );
    await assert.rejects(
      createWebhookSink({ ...base, url: "https://127.0.0.1:9/hook", policy: new HostPolicy() }),
      (e: LodeError) => e.code === "HOST_NOT_ALLOWED",
    );
    const allowed = await createWebhookSink({
      ...base,
      url: "http://127.0.0.1:9/hook",
      policy: new HostPolicy({ httpHosts: ["127.0.0.1"] }),
      drainMs: 0,
    });
    await allowed.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Event sinks through the real CLI: `--sink` and the config file's `sinks` on `lode pull` and
 * `lode serve`, a real HTTPS webhook receiver that checks every signature, a real log file.
 */
import assert from "node:assert/strict";
import { makeTestCa, type TestCa } from "./support/test_ca.ts";
import { type Origin, startOrigin } from "./support/origin.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe } from "./support/serve_process.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook_receiver.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const BYTES = await Deno.readFile(FIXTURE);
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

interface World {
  dir: string;
  ca: TestCa;
  origin: Origin;
  receiver: WebhookReceiver;
  store: string;
  lode(args: string[], env?: Record<string, string>): ReturnType<typeof runLode>;
}

async function withWorld(body: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-sinks-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({ tls: ca, routes: { "/m/stories260K.gguf": { body: BYTES } } });
  const receiver = await startWebhookReceiver({ tls: ca, secret: SECRET });
  const store = `${dir}/store`;
  try {
    await body({
      dir,
      ca,
      origin,
      receiver,
      store,
      lode: (args, env) => runLode(["--ca-cert", ca.caCertPath, ...args], { store, env }),
    });
  } finally {
    await receiver.stop();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function logRecords(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text.endsWith("\n"));
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("pull --sink file=… --sink webhook=…: the pull's events in the log and signed at the receiver", async () => {
  await withWorld(async ({ dir, origin, receiver, lode }) => {
    const log = `${dir}/events.ndjson`;
    const r = await lode(
      [
        "pull",
        `${origin.url}/m/stories260K.gguf#sha256=${SHA}`,
        "--sink",
        `file=${log}`,
        "--sink",
        `webhook=${receiver.url}`,
        "--json",
      ],
      { LODE_WEBHOOK_SECRET: SECRET },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const records = await logRecords(log);
    assert.ok(records.every((e) => e.v === 1 && typeof e.seq === "number" && e.source === "download"));
    const kinds = records.map((e) => (e.event as { event: string }).event).filter((k) =>
      k !== "file_progress"
    );
    assert.deepEqual(kinds, ["started", "file_started", "file_completed", "completed"]);
    assert.equal(receiver.received.length, records.length, "every event reached the webhook before exit");
    assert.ok(receiver.received.every((m) => m.valid), "every signature verifies");
    assert.deepEqual(
      receiver.received.map((m) => JSON.parse(m.body).data.seq),
      records.map((e) => e.seq),
    );
    assert.equal(JSON.parse(receiver.received.at(-1)!.body).type, "download.completed");
  });
});

Deno.test("config file sinks: a webhook filtered by type with its secret_env, and a file log", async () => {
  await withWorld(async ({ dir, origin, receiver, store, lode }) => {
    const log = `${dir}/config-events.ndjson`;
    const config = `${dir}/config.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        sinks: [
          { type: "webhook", url: receiver.url, secret_env: "HOOK_SECRET", events: ["download.completed"] },
          { type: "file", path: log, max_bytes: 1_000_000, keep: 2 },
        ],
      }),
    );
    const r = await lode(["pull", `${origin.url}/m/stories260K.gguf#sha256=${SHA}`], {
      LODE_CONFIG: config,
      HOOK_SECRET: SECRET,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(receiver.received.map((m) => JSON.parse(m.body).type), ["download.completed"]);
    assert.ok(receiver.received[0]!.valid);
    assert.ok((await logRecords(log)).length >= 4);
    // Commands without sinks neither open nor need them: `ls` runs without the secret.
    const ls = await runLode(["ls"], { store, env: { LODE_CONFIG: config } });
    assert.equal(ls.code, 0, ls.stderr);
  });
});

Deno.test("a webhook sink without its secret or over plain http, or a log file that cannot be opened, stops the command before it starts", async () => {
  await withWorld(async ({ origin, receiver, store, lode }) => {
    const ref = `${origin.url}/m/stories260K.gguf#sha256=${SHA}`;
    const noSecret = await lode(["pull", ref, "--sink", `webhook=${receiver.url}`, "--json"]);
    assert.equal(noSecret.code, 2, noSecret.stderr);
    const error = noSecret.events.find((e) => e.event === "error");
    assert.equal(error?.code, "USAGE");
    assert.match(String(error?.message), /\$LODE_WEBHOOK_SECRET is not set/);

    const plain = await lode(["pull", ref, "--sink", "webhook=http://127.0.0.1:9/hook", "--json"], {
      LODE_WEBHOOK_SECRET: SECRET,
    });
    assert.equal(plain.events.find((e) => e.event === "error")?.code, "INSECURE_URL", plain.stderr);

    const badSecret = await lode(["pull", ref, "--sink", `webhook=${receiver.url}`, "--json"], {
      LODE_WEBHOOK_SECRET: "not-a-secret",
    });
    const bad = badSecret.events.find((e) => e.event === "error");
    assert.equal(bad?.code, "USAGE");
    assert.doesNotMatch(String(bad?.message), /not-a-secret/, "the secret is never printed");
    const noDir = await lode(["pull", ref, "--sink", `file=${store}/no/such/dir/events.ndjson`, "--json"]);
    const unopened = noDir.events.find((e) => e.event === "error");
    assert.equal(noDir.code, 2, noDir.stderr);
    assert.equal(unopened?.code, "USAGE");
    assert.match(
      String(unopened?.message),
      /cannot open the log file .*no\/such\/dir\/events\.ndjson of a file sink/,
    );
    assert.equal(receiver.received.length, 0);
    assert.equal(origin.requests.length, 0, "nothing was pulled");
    await assert.rejects(Deno.stat(`${store}/manifests/stories260K.json`));
  });
});

Deno.test("serve --sink file=…: the daemon's own events go to the log", async () => {
  await withWorld(async ({ dir, store }) => {
    const log = `${dir}/daemon-events.ndjson`;
    await Deno.mkdir(store, { recursive: true });
    const daemon = await startServe(dir, store, ["--sink", `file=${log}`]);
    const r = await daemon.stop();
    assert.equal(r.code, 0, r.stderr);
    const records = await logRecords(log);
    const statuses = records.filter((e) => e.source === "daemon").map((e) =>
      (e.event as { status?: string }).status
    );
    assert.ok(statuses.includes("ready"), JSON.stringify(statuses));
    assert.ok(statuses.includes("draining") || statuses.includes("stopped"), JSON.stringify(statuses));
  });
});

Deno.test("job run --sink webhook=…: the job's events are delivered, signed", async () => {
  await withWorld(async ({ receiver, store, lode }) => {
    const imported = await runLode(["import", FIXTURE, "--name", "stories260K"], { store });
    assert.equal(imported.code, 0, imported.stderr);
    const spec = JSON.stringify({ model: "stories260K", command: "true" });
    const r = await lode([
      "job",
      "run",
      "model-external-command",
      "--spec",
      spec,
      "--sink",
      `webhook=${receiver.url}`,
    ], {
      LODE_WEBHOOK_SECRET: SECRET,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const types = receiver.received.map((m) => JSON.parse(m.body).type as string);
    assert.ok(types.includes("job.job_state"), types.join(", "));
    assert.ok(receiver.received.every((m) => m.valid));
    const states = receiver.received.map((m) => JSON.parse(m.body).data.event)
      .filter((e: { event: string }) => e.event === "job_state").map((e: { state: string }) => e.state);
    assert.equal(states.at(-1), "succeeded", states.join(", "));
  });
});

Deno.test("pull --plugin DIR of a sink plugin: its process receives the pull's events (sandboxed: it writes only its declared folder)", async () => {
  await withWorld(async ({ dir, origin, lode }) => {
    const plugin = `${dir}/event_tap`;
    await Deno.mkdir(`${plugin}/out`, { recursive: true });
    await Deno.writeTextFile(
      `${plugin}/lode-plugin.json`,
      JSON.stringify({
        name: "event_tap",
        version: "1.0.0",
        api_version: 1,
        hooks: ["sink"],
        entry: "main.ts",
        permissions: { write: [{ path: "out", reason: "the events it receives, one JSON line each" }] },
      }),
    );
    const sdk = new URL("../plugins/sdk/mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${plugin}/main.ts`,
      `import { definePlugin } from ${JSON.stringify(sdk)};
const lines: string[] = [];
definePlugin({
  name: "event_tap",
  sink: {
    event(envelope) { lines.push(JSON.stringify(envelope)); },
    async close() { await Deno.writeTextFile(${
        JSON.stringify(`${plugin}/out/events.ndjson`)
      }, lines.join("\\n") + "\\n"); },
  },
});
`,
    );
    const r = await lode(["pull", `${origin.url}/m/stories260K.gguf#sha256=${SHA}`, "--plugin", plugin]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const records = await logRecords(`${plugin}/out/events.ndjson`);
    const kinds = records.map((e) => (e.event as { event: string }).event).filter((k) =>
      k !== "file_progress"
    );
    assert.deepEqual(kinds, ["started", "file_started", "file_completed", "completed"]);
  });
});

/**
 * Mirrors from the command line, the real CLI in child processes against HTTPS origins on loopback:
 * `lode pull URL#sha256=HEX --mirror URL2` and a `lode.lock` whose file lists `mirrors`, synced by
 * `lode sync`, each with a first URL that refuses connections.
 */
import assert from "node:assert/strict";
import { DownloadEvent } from "../src/events/download_event.ts";
import { engineTest, getsOf, randomModel, sha256, withEngine } from "./support/engine_world.ts";

const BODY = randomModel(5 * 1024 * 1024 + 77);
const SHA = sha256(BODY);

/** A URL on 127.0.0.1 where nothing listens (connections are refused). */
function refusedUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `https://127.0.0.1:${port}/m.gguf`;
}

engineTest("cli: lode pull --mirror moves to the mirror and says so", async () => {
  await withEngine({}, async (w) => {
    const first = refusedUrl();
    const mirror = `${w.second!.url}/m.gguf?sig=secret`;
    const json = await w.lode(["pull", `${first}#sha256=${SHA}`, "--mirror", mirror, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const events = json.events.map((e) => DownloadEvent.parse(e));
    const failed = events.find((e) => e.event === "mirror_failed");
    assert.deepEqual(failed && { ...failed, model: undefined }, {
      event: "mirror_failed",
      model: undefined,
      filename: "m.gguf",
      url: first,
      code: "NETWORK",
      next_url: `${w.second!.url}/m.gguf`,
    });
    assert.ok(!JSON.stringify(failed).includes("secret"), "no query secret in the event");
    assert.equal(events.at(-1)?.event, "completed");

    // A fresh store, so the bytes are fetched again; without --json, one line on stderr says it.
    const text = await w.lode(["pull", `${first}#sha256=${SHA}`, "--mirror", mirror], {
      MODELS_HOME: `${w.dir}/store2`,
    });
    assert.equal(text.code, 0, text.stderr);
    assert.ok(
      text.stderr.includes(`m.gguf: ${first} failed (NETWORK); trying ${w.second!.url}/m.gguf\n`),
      text.stderr,
    );
    assert.equal(getsOf(w.second!, "/m.gguf").length > 0, true);
  }, { second: { "/m.gguf": { body: BODY } } });
});

engineTest("cli: lode pull --mirror without a pinned hash is a usage error", async () => {
  await withEngine({ "/m.gguf": { body: BODY } }, async (w) => {
    const r = await w.lode(["pull", `${w.origin.url}/m.gguf`, "--mirror", `${w.origin.url}/m.gguf`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--mirror needs the bytes pinned/);
    assert.equal(getsOf(w.origin, "/m.gguf").length, 0);
  });
});

engineTest("cli: lode sync pulls a locked file from its mirrors when its url fails", async () => {
  await withEngine({ "/gone/m.gguf": { status: 404 } }, async (w) => {
    const lockfile = `${w.dir}/lode.lock`;
    await Deno.writeTextFile(
      lockfile,
      JSON.stringify({
        lockfile_version: 1,
        models: [{
          name: "m",
          reference: `${w.origin.url}/gone/m.gguf#sha256=${SHA}`,
          registry: "127.0.0.1",
          repo: "",
          revision: "",
          files: [{
            role: "model",
            filename: "m.gguf",
            url: `${w.origin.url}/gone/m.gguf`,
            mirrors: [refusedUrl(), `${w.second!.url}/m.gguf`],
            sha256: SHA,
            size: BODY.length,
          }],
        }],
      }),
    );
    const r = await w.lode(["sync", "--lockfile", lockfile, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const codes = r.events.filter((e) => e.event === "mirror_failed").map((e) => e.code);
    assert.deepEqual(codes, ["HTTP_NOT_FOUND", "NETWORK"]);
    assert.ok(r.events.some((e) => e.event === "sync_model" && e.model === "m" && e.status === "pulled"));
    const again = await w.lode(["sync", "--lockfile", lockfile, "--frozen", "--offline", "--json"]);
    assert.equal(again.code, 0, again.stderr);
  }, { second: { "/m.gguf": { body: BODY } } });
});

engineTest(
  "cli: lode lock add --mirror writes the mirrors; sync uses them when the url is gone",
  async () => {
    await withEngine({ "/m.gguf": { body: BODY } }, async (w) => {
      const lockfile = `${w.dir}/lode.lock`;
      const mirror = `${w.second!.url}/m.gguf`;
      const add = await w.lode([
        "lock",
        "add",
        `${w.origin.url}/m.gguf#sha256=${SHA}`,
        "--mirror",
        mirror,
        "--lockfile",
        lockfile,
      ]);
      assert.equal(add.code, 0, add.stderr);
      const locked = JSON.parse(await Deno.readTextFile(lockfile)).models[0].files[0];
      assert.deepEqual(locked.mirrors, [mirror]);
      assert.equal(getsOf(w.second!, "/m.gguf").length, 0, "the mirror is not asked while the url works");

      w.origin.routes["/m.gguf"] = { status: 410 };
      const sync = await w.lode(["sync", "--lockfile", lockfile, "--frozen", "--json"], {
        MODELS_HOME: `${w.dir}/ci`,
      });
      assert.equal(sync.code, 0, sync.stderr);
      assert.deepEqual(
        sync.events.filter((e) => e.event === "mirror_failed").map((e) => [e.code, e.status]),
        [
          ["HTTP_NOT_FOUND", 410],
        ],
      );
    }, { second: { "/m.gguf": { body: BODY } } });
  },
);

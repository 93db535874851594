/**
 * A pulled file must be a well-formed GGUF model before its manifest is written (src/store/well_formed.ts),
 * whatever the route: `lode pull https://…` (pinned or not), `lode pull hf:…` (a split model's shard
 * too), and `lode sync`. The real CLI against real HTTPS origins on loopback: each refusal is
 * GGUF_INVALID (exit 4), the bytes are quarantined with the reason and the URL, no manifest is written
 * and the store is otherwise as it was.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { startFakeHub } from "./support/fake_hub.ts";
import { listTree, runLode } from "./support/lode_cli.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { splitGguf } from "../scripts/split_gguf.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/stories260K.gguf", import.meta.url));
const STORIES = await Deno.readFile(FIXTURE);
const STORIES_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

const NOTES = new TextEncoder().encode("release notes, not a model\n".repeat(100));
const CUT = STORIES.subarray(0, 700_000);
const JUNK = new Uint8Array([
  0x47,
  0x47,
  0x55,
  0x46,
  ...new Uint8Array(90_000).map((_, i) => (i * 40503) >>> 8),
]);

/** The store's files, without lock files and quarantine (compared apart). */
async function storeFiles(store: string): Promise<string[]> {
  return (await listTree(store)).filter((p) => !p.startsWith("locks/"));
}

async function quarantined(store: string): Promise<Record<string, unknown>[]> {
  const dir = `${store}/locks/quarantine`;
  const records = (await listTree(dir)).filter((p) => p.endsWith(".json"));
  return await Promise.all(records.map(async (r) => JSON.parse(await Deno.readTextFile(`${dir}/${r}`))));
}

function failure(events: Record<string, unknown>[]): Record<string, unknown> {
  const failed = events.find((e) => e.event === "failed");
  assert.ok(failed, JSON.stringify(events));
  return failed;
}

Deno.test("lode pull https://…: a text file, a truncated GGUF and GGUF magic + junk are GGUF_INVALID, quarantined, no manifest", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const routes = {
      "/stories260K.gguf": { body: STORIES },
      "/notes.gguf": { body: NOTES },
      "/cut.gguf": { body: CUT },
      "/junk.gguf": { body: JUNK },
    };
    const origin = await startOrigin({ tls: ca, routes });
    const store = `${dir}/store`;
    const lode = (...args: string[]) => runLode(["--ca-cert", ca.caCertPath, ...args], { store });
    try {
      assert.equal((await lode("pull", `${origin.url}/stories260K.gguf#sha256=${STORIES_SHA}`)).code, 0);
      const before = await storeFiles(store);
      const pulls: [string, Uint8Array, RegExp][] = [
        [`${origin.url}/notes.gguf`, NOTES, /notes\.gguf: not a GGUF file: wrong magic "rele"/],
        [
          `${origin.url}/cut.gguf#sha256=${sha256(CUT)}`,
          CUT,
          /cut\.gguf: tensor .* beyond the end of the file/,
        ],
        [`${origin.url}/junk.gguf`, JUNK, /junk\.gguf: unsupported GGUF version/],
      ];
      for (const [ref, bytes, why] of pulls) {
        const r = await lode("pull", ref, "--json");
        assert.equal(r.code, 4, r.stdout + r.stderr);
        const failed = failure(r.events);
        assert.equal(failed.code, "GGUF_INVALID");
        assert.match(String(failed.message), why);
        const details = failed.details as Record<string, unknown>;
        assert.deepEqual(await Deno.readFile(String(details.quarantine_path)), bytes);
        assert.deepEqual(await storeFiles(store), before, `${ref} left something besides its quarantine`);
      }
      const records = await quarantined(store);
      assert.deepEqual(
        records.map((r) => [r.reason, r.source]).sort(),
        [
          ["gguf_invalid", `${origin.url}/cut.gguf`],
          ["gguf_invalid", `${origin.url}/junk.gguf`],
          ["gguf_invalid", `${origin.url}/notes.gguf`],
        ],
      );
      // Text output: the reason, where the bytes went, and what a file that is not a model needs.
      const text = await lode("pull", `${origin.url}/notes.gguf`, "--name", "notes");
      assert.equal(text.code, 4);
      assert.match(
        text.stderr,
        /error\[GGUF_INVALID\]: "notes" was not stored: notes\.gguf: not a GGUF file/,
      );
      assert.match(text.stderr, /its bytes were moved to .*locks\/quarantine\//);
      assert.match(text.stderr, /hint: .*--format NAME/);
      assert.equal((await lode("verify", "--all")).code, 0, "the store is still sound");
    } finally {
      await origin.close();
    }
  }, { prefix: "lode-pull-check-" });
});

Deno.test("lode sync of a locked file that is not a model, and lode pull hf: of a split model with a bad shard: GGUF_INVALID", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const shards = await splitGguf(FIXTURE, { outPrefix: `${dir}/split-Q8_0`, count: 2 });
    const good = await Deno.readFile(shards[0]!.path);
    const hub = await startFakeHub(ca, [{
      repo: "tiny/split-GGUF",
      files: [
        { path: "split-Q8_0-00001-of-00002.gguf", bytes: good },
        { path: "split-Q8_0-00002-of-00002.gguf", bytes: NOTES },
      ],
    }]);
    const origin = await startOrigin({ tls: ca, routes: { "/m/notes.gguf": { body: NOTES } } });
    const store = `${dir}/store`;
    const lode = (args: string[], cwd?: string) =>
      runLode(["--ca-cert", ca.caCertPath, "--allow-host", hub.cdnHost, ...args], {
        store,
        env: { HF_ENDPOINT: hub.endpoint },
        ...(cwd ? { cwd } : {}),
      });
    try {
      const hf = await lode(["pull", "hf:tiny/split-GGUF:Q8_0", "--json"]);
      assert.equal(hf.code, 4, hf.stdout + hf.stderr);
      const failed = failure(hf.events);
      assert.equal(failed.code, "GGUF_INVALID");
      assert.equal((failed.details as Record<string, unknown>).filename, "split-Q8_0-00002-of-00002.gguf");
      assert.ok(!(await storeFiles(store)).some((p) => p.startsWith("manifests/")));
      // The good first shard stays as a blob (collected by gc), the bad one is quarantined.
      assert.ok(
        (await listTree(store)).includes(`blobs/sha256/${sha256(good).slice(0, 2)}/${sha256(good)}/data`),
      );
      assert.equal((await quarantined(store)).length, 1);

      await Deno.mkdir(`${dir}/project`);
      const url = `${origin.url}/m/notes.gguf`;
      await Deno.writeTextFile(
        `${dir}/project/lode.lock`,
        JSON.stringify({
          lockfile_version: 1,
          models: [{
            name: "notes",
            reference: `${url}#sha256=${sha256(NOTES)}`,
            registry: new URL(url).host,
            repo: "",
            revision: "",
            format: "gguf",
            files: [{
              role: "model",
              filename: "notes.gguf",
              url,
              sha256: sha256(NOTES),
              size: NOTES.length,
            }],
          }],
        }),
      );
      const sync = await lode(["sync"], `${dir}/project`);
      assert.equal(sync.code, 4, sync.stdout + sync.stderr);
      assert.match(sync.stderr, /GGUF_INVALID/);
      assert.ok(!(await storeFiles(store)).some((p) => p.startsWith("manifests/")));
      const records = await quarantined(store);
      assert.deepEqual(
        records.map((r) => r.source).sort(),
        [
          url,
          `${hub.endpoint}/tiny/split-GGUF/resolve/${
            hub.shaOf("tiny/split-GGUF")
          }/split-Q8_0-00002-of-00002.gguf`,
        ].sort(),
      );
    } finally {
      await origin.close();
      await hub.close();
    }
  }, { prefix: "lode-sync-check-" });
});

/**
 * `lode embed` through the real CLI on stories260K (embedding length 64).
 */
import assert from "node:assert/strict";
import { EmbeddingEvent, StatusLine } from "../src/events/mod.ts";
import { runLode } from "./support/lode_cli.ts";
import { withTempDir } from "./support/temp_dir.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

Deno.test("lode embed: a JSON array of {text, embedding} with the model's dimension, unit length, in order", async () => {
  await withTempDir(async (store) => {
    const r = await runLode(["embed", `file:${FIXTURE}`, "a red ball", "a blue ball", "a red ball"], {
      store,
    });
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { text: string; embedding: number[] }[];
    assert.deepEqual(rows.map((x) => x.text), ["a red ball", "a blue ball", "a red ball"]);
    for (const row of rows) {
      assert.equal(row.embedding.length, 64);
      assert.ok(Math.abs(norm(row.embedding) - 1) < 1e-6, String(norm(row.embedding)));
    }
    assert.deepEqual(rows[0]!.embedding, rows[2]!.embedding);
    assert.notDeepEqual(rows[0]!.embedding, rows[1]!.embedding);

    const raw = await runLode(["embed", `file:${FIXTURE}`, "a red ball", "--no-normalize"], { store });
    assert.equal(raw.code, 0, raw.stderr);
    const [unscaled] = JSON.parse(raw.stdout) as { embedding: number[] }[];
    assert.ok(Math.abs(norm(unscaled!.embedding) - 1) > 1e-3);
    const scaled = unscaled!.embedding.map((x) => x / norm(unscaled!.embedding));
    scaled.forEach((x, i) => assert.ok(Math.abs(x - rows[0]!.embedding[i]!) < 1e-6));
  });
});

Deno.test("lode embed --json: status events, then one embedding event per stdin line (empty lines skipped)", async () => {
  await withTempDir(async (store) => {
    const r = await runLode(["embed", `file:${FIXTURE}`, "--json"], { store, input: "first\n\nsecond\r\n" });
    assert.equal(r.code, 0, r.stderr);
    // One tag for every line: the load's events are `status` lines.
    assert.ok(r.events.every((e) => typeof e.event === "string"), r.stdout);
    const statuses = r.events.filter((e) => e.event === "status").map((e) => StatusLine.parse(e).status);
    assert.deepEqual(statuses, ["loading_model", "loading_model", "capabilities"]);
    const embeddings = r.events.filter((e) => e.event === "embedding").map((e) => EmbeddingEvent.parse(e));
    assert.deepEqual(embeddings.map((e) => [e.index, e.text, e.embedding.length]), [[0, "first", 64], [
      1,
      "second",
      64,
    ]]);
    const empty = await runLode(["embed", `file:${FIXTURE}`], { store, input: "\n \n" });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /error\[USAGE\]: stdin held no text to embed/);
    const bad = await runLode(["embed", `file:${FIXTURE}`, "x", "--threads", "many"], { store });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /error\[USAGE\]: --threads must be a whole number/);
  });
});

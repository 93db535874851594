/** `lode inspect` through the real CLI: a stored model, files, a split model, and hostile files. */
import assert from "node:assert/strict";
import { InspectEvent } from "../src/events/mod.ts";
import { GGUF_TYPE, type GgufValue } from "../src/gguf/mod.ts";
import { encodeGgufHeader } from "../scripts/gguf_header.ts";
import { GgufBytes } from "./support/gguf_bytes.ts";
import { listTree, runLode } from "./support/lode_cli.ts";
import { withTempDir } from "./support/temp_dir.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;

Deno.test("lode inspect: a stored model by name, file:PATH and a plain path agree; human lines are aligned", async () => {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    assert.equal((await runLode(["import", FIXTURE, "--name", "tiny"], { store })).code, 0);
    const byName = await runLode(["inspect", "tiny", "--json"], { store });
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(byName.events.length, 1);
    const e = InspectEvent.parse(byName.events[0]);
    assert.equal(e.model, "tiny");
    assert.match(e.path, /blobs\/sha256\/27\/270cba1b/);
    assert.equal(e.architecture, "llama");
    assert.equal(e.parameters, 292_800);
    assert.equal(e.quantization, "F32");
    assert.equal(e.context_length, 2048);
    assert.equal(e.block_count, 5);
    assert.equal(e.chat_template, false);
    assert.equal(e.tensor_count, 48);
    assert.equal(e.file_size_bytes, (await Deno.stat(FIXTURE)).size);

    for (const ref of [`file:${FIXTURE}`, FIXTURE]) {
      const r = await runLode(["inspect", ref, "--json"], { store });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual({ ...InspectEvent.parse(r.events[0]), model: "", path: "" }, {
        ...e,
        model: "",
        path: "",
      });
    }

    const human = await runLode(["inspect", "tiny"], { store });
    assert.equal(human.code, 0, human.stderr);
    const lines = human.stdout.trimEnd().split("\n");
    assert.match(human.stdout, /^architecture +llama$/m);
    assert.match(human.stdout, /^parameters +292\.8K \(292800\)$/m);
    assert.match(human.stdout, /^chat template +no$/m);
    const column = lines[0]!.search(/ \S/) + 1;
    assert.ok(
      lines.every((l) => l.length > column && l[column - 1] === " " && l[column] !== " "),
      human.stdout,
    );
  }, { prefix: "lode-inspect-" });
});

Deno.test("lode inspect: a split model sums every shard", async () => {
  await withTempDir(async (dir) => {
    const u16 = (value: number): GgufValue => ({ type: GGUF_TYPE.UINT16, value });
    const shard = async (no: number, kv: [string, GgufValue][], tensor: string, dims: number[]) => {
      const meta = new Map<string, GgufValue>([...kv, ["split.no", u16(no)], ["split.count", u16(2)]]);
      const header = encodeGgufHeader(meta, [{ name: tensor, dims, type: 0, offset: 0 }]);
      const path = `${dir}/m-0000${no + 1}-of-00002.gguf`;
      await Deno.writeFile(path, header);
      await Deno.truncate(path, header.byteLength + dims.reduce((a, b) => a * b) * 4);
    };
    await shard(0, [["general.architecture", { type: GGUF_TYPE.STRING, value: "llama" }]], "a", [64, 4]);
    await shard(1, [], "b", [64]);
    const r = await runLode(["inspect", `${dir}/m-00001-of-00002.gguf`, "--json"], { store: `${dir}/store` });
    assert.equal(r.code, 0, r.stderr);
    const e = InspectEvent.parse(r.events[0]);
    assert.equal(e.split_count, 2);
    assert.equal(e.tensor_count, 2);
    assert.equal(e.parameters, 64 * 4 + 64);
    assert.equal(e.tensor_data_bytes, (64 * 4 + 64) * 4);
    await Deno.remove(`${dir}/m-00002-of-00002.gguf`);
    const missing = await runLode(["inspect", `${dir}/m-00001-of-00002.gguf`], { store: `${dir}/store` });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /m-00002-of-00002\.gguf/);
  }, { prefix: "lode-inspect-split-" });
});

Deno.test("lode inspect: hostile files exit 4 with GGUF_INVALID and leave everything as it was", async () => {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    const hostile: [string, Uint8Array][] = [
      ["empty.gguf", new Uint8Array(0)],
      ["magic.gguf", new GgufBytes().magic("GGML").u32(3).u64(0).u64(0).bytes()],
      ["count.gguf", new GgufBytes().head(2n ** 63n - 1n, 0).zeros(64).bytes()],
      ["string.gguf", new GgufBytes().head(0, 1).u64(2n ** 62n).zeros(64).bytes()],
      ["truncated.gguf", (await Deno.readFile(FIXTURE)).subarray(0, 9000)],
    ];
    for (const [name, bytes] of hostile) await Deno.writeFile(`${dir}/${name}`, bytes);
    const before = await listTree(dir);
    for (const [name, bytes] of hostile) {
      const human = await runLode(["inspect", `${dir}/${name}`], { store });
      assert.equal(human.code, 4, `${name}: ${human.stderr}`);
      assert.match(human.stderr, /^error\[GGUF_INVALID\]: .*\(at offset \d+\)\n {2}hint: /, name);
      assert.equal(human.stdout, "");
      const json = await runLode(["inspect", `file:${dir}/${name}`, "--json"], { store });
      assert.equal(json.code, 4);
      assert.equal(json.events.length, 1);
      assert.equal(json.events[0]!.event, "error");
      assert.equal(json.events[0]!.code, "GGUF_INVALID");
      assert.deepEqual(await Deno.readFile(`${dir}/${name}`), bytes, `${name} unchanged`);
    }
    assert.deepEqual(await listTree(dir), before, "nothing written, not even a store");
  }, { prefix: "lode-inspect-hostile-" });
});

Deno.test("lode inspect: a missing file exits 3, a remote reference is a usage error", async () => {
  await withTempDir(async (store) => {
    const missing = await runLode(["inspect", "./nope.gguf"], { store });
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /error\[FILE_NOT_FOUND\]: no such file: \.\/nope\.gguf/);
    const prefixed = await runLode(["inspect", "file:./nope.gguf"], { store });
    assert.equal(prefixed.code, 3);
    assert.match(prefixed.stderr, /error\[FILE_NOT_FOUND\]: no such file: \.\/nope\.gguf/);
    const name = await runLode(["inspect", "nope"], { store });
    assert.equal(name.code, 3);
    assert.match(name.stderr, /MODEL_NOT_FOUND/);
    const remote = await runLode(["inspect", "hf:owner/repo"], { store });
    assert.equal(remote.code, 2);
    assert.match(remote.stderr, /lode pull hf:owner\/repo/);
  }, { prefix: "lode-inspect-missing-" });
});

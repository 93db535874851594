import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { createHash } from "node:crypto";
import { readGgufHeader } from "../src/gguf/mod.ts";
import { GGML_TYPE } from "./gguf_header.ts";
import { headDim } from "./llama_shape.ts";
import { main, parseCount, parseSize, writeGgufModel } from "./gen_gguf.ts";

const MiB = 1024 * 1024;
const FIXTURE = new URL("../tests/fixtures/stories260K.gguf", import.meta.url);
const KEEP_ALL = { limits: { keepArrayItems: Infinity, maxKeptArrayItems: Infinity } };

async function sha256File(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

/** Loads the model with node-llama-cpp and greedily generates a few tokens. */
async function generateTokens(path: string, count: number): Promise<number> {
  const { getLlama } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false });
  const model = await llama.loadModel({ modelPath: path });
  try {
    const context = await model.createContext({ contextSize: 128, threads: 1 });
    try {
      const tokens = model.tokenize("Once upon a time");
      assert(tokens.length > 0);
      let n = 0;
      for await (const _token of context.getSequence().evaluate(tokens, { temperature: 0 })) {
        if (++n >= count) break;
      }
      return n;
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

Deno.test("parseSize and parseCount", () => {
  assertEquals(parseSize("512KiB"), 512 * 1024);
  assertEquals(parseSize("64MiB"), 64 * MiB);
  assertEquals(parseSize("1GiB"), 1024 * MiB);
  assertEquals(parseSize("1gb"), 1e9);
  assertEquals(parseSize("12345"), 12345);
  assertEquals(parseSize("1.5M"), 1.5 * MiB);
  assertThrows(() => parseSize("12 parsecs"));
  assertThrows(() => parseSize("-1"));
  assertEquals(parseCount("100M"), 100_000_000);
  assertEquals(parseCount("260K"), 260_000);
  assertEquals(parseCount("1.5B"), 1_500_000_000);
  assertThrows(() => parseCount("many"));
});

Deno.test("writeGgufModel: valid header, size on target, tokenizer copied, deterministic", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gen_gguf_test_" });
  try {
    const source = await readGgufHeader(FIXTURE, KEEP_ALL);
    for (const [sizeBytes, tensorType] of [[2 * MiB, "f32"], [20 * MiB, "f16"]] as const) {
      const path = `${dir}/m-${sizeBytes}.gguf`;
      const r = await writeGgufModel(path, { sizeBytes, seed: 42, tensorType });
      assertEquals(r.path, path);
      assertEquals((await Deno.stat(path)).size, r.sizeBytes);
      assert(Math.abs(r.sizeBytes - sizeBytes) / sizeBytes < 0.02, `size ${r.sizeBytes} vs ${sizeBytes}`);
      assertEquals(await sha256File(path), r.sha256);
      const head = await Deno.readFile(path);
      assertEquals(new TextDecoder().decode(head.subarray(0, 4)), "GGUF");
      assertEquals(new DataView(head.buffer).getUint32(4, true), 3);

      const h = await readGgufHeader(path, KEEP_ALL);
      assertEquals(h.version, 3);
      assertEquals(h.alignment, 32);
      assertEquals(h.dataOffset % 32, 0);
      assertEquals(h.metadata.get("general.architecture")?.value, "llama");
      assertEquals(h.metadata.get("llama.embedding_length")?.value, r.shape.nEmbd);
      assertEquals(h.metadata.get("llama.block_count")?.value, r.shape.nLayer);
      assertEquals(h.metadata.get("llama.attention.head_count_kv")?.value, r.shape.nHeadKv);
      assertEquals(h.metadata.get("llama.rope.dimension_count")?.value, headDim(r.shape));
      for (const [k, v] of source.metadata) {
        if (!k.startsWith("tokenizer.")) continue;
        assertEquals(h.metadata.get(k), v.value === 0xffffffff ? undefined : v, k);
      }
      assertEquals(h.metadata.get("tokenizer.ggml.bos_token_id")?.value, 1);
      assertEquals((h.metadata.get("tokenizer.ggml.tokens")?.value as string[]).length, 512);
      assertEquals(h.tensors.length, 3 + 9 * r.shape.nLayer);
      const weight = tensorType === "f32" ? GGML_TYPE.F32 : GGML_TYPE.F16;
      for (const t of h.tensors) {
        assertEquals(t.offset % 32, 0, t.name);
        assertEquals(t.type, t.dims.length === 1 ? GGML_TYPE.F32 : weight, t.name);
      }
      const last = h.tensors.at(-1)!;
      assert(h.dataOffset + last.offset + last.dims[0]! * 4 <= r.sizeBytes);

      const again = await writeGgufModel(`${dir}/again.gguf`, { sizeBytes, seed: 42, tensorType });
      assertEquals(again.sha256, r.sha256, "same seed, same bytes");
      const other = await writeGgufModel(`${dir}/other.gguf`, { sizeBytes, seed: 43, tensorType });
      assert(other.sha256 !== r.sha256, "different seed, different bytes");
      assertEquals(other.sizeBytes, r.sizeBytes);
    }
    const byParams = await writeGgufModel(`${dir}/p.gguf`, { params: 1_000_000 });
    assert(Math.abs(byParams.params - 1e6) / 1e6 < 0.02, `params ${byParams.params}`);
    assert(Math.abs(byParams.sizeBytes - 2e6) / 2e6 < 0.05, "f16 by default");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generated models load in node-llama-cpp and generate tokens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gen_gguf_test_" });
  try {
    for (const [sizeBytes, tensorType] of [[2 * MiB, "f32"], [20 * MiB, "f16"]] as const) {
      const path = `${dir}/m.gguf`;
      await writeGgufModel(path, { sizeBytes, seed: 7, tensorType });
      assertEquals(await generateTokens(path, 8), 8, `${tensorType} ${sizeBytes}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI prints one JSON line and rejects bad flags", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gen_gguf_test_" });
  try {
    const out = `${dir}/cli.gguf`;
    const script = new URL("./gen_gguf.ts", import.meta.url).pathname;
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, ...args],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
    const ok = await run(["--out", out, "--size", "1MiB", "--seed", "3", "--tensor-type", "f32"]);
    assertEquals(ok.code, 0, new TextDecoder().decode(ok.stderr));
    const lines = new TextDecoder().decode(ok.stdout).trim().split("\n");
    assertEquals(lines.length, 1);
    const j = JSON.parse(lines[0]!);
    assertEquals(j.path, out);
    assertEquals(j.sizeBytes, (await Deno.stat(out)).size);
    assertEquals(j.sha256, await sha256File(out));
    assertEquals(j.tensorType, "f32");
    assertEquals(j.seed, 3);
    assert(j.shape.nEmbd > 0 && j.shape.nLayer > 0);

    const errs: string[] = [];
    const io = { out: (l: string) => errs.push(`stdout: ${l}`), err: (l: string) => errs.push(l) };
    assertEquals(await main(["--out", out], io), 2, "needs --size or --params");
    assertEquals(await main(["--out", out, "--size", "1MiB", "--params", "1M"], io), 2, "not both");
    assertEquals(await main(["--out", out, "--size", "1MiB", "--tensor-type", "q4"], io), 2);
    assertEquals(await main(["--out", out, "--size", "1MiB", "--seed", "x"], io), 2);
    assertEquals(errs.length, 4);
    assert(errs.every((e) => e.includes("usage:")), errs.join("\n"));
    const tiny = await run(["--out", `${dir}/tiny.gguf`, "--size", "1KiB"]);
    assertEquals(tiny.code, 1);
    assert(new TextDecoder().decode(tiny.stderr).includes("too small"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

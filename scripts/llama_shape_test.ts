import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { chooseLlamaShape, headDim, llamaParamCount, llamaTensors } from "./llama_shape.ts";

Deno.test("llamaParamCount matches llamaTensors and the stories260K shape", () => {
  const s = { nVocab: 512, nEmbd: 64, nLayer: 5, nHead: 8, nHeadKv: 4, nFf: 172, contextLength: 2048 };
  assertEquals(llamaParamCount(s), 292800);
  const specs = llamaTensors(s);
  assertEquals(specs.length, 3 + 9 * 5);
  assertEquals(specs.reduce((n, t) => n + t.dims.reduce((a, b) => a * b, 1), 0), 292800);
  assertEquals(specs.find((t) => t.name === "blk.0.attn_k.weight")?.dims, [64, 32]);
  assertEquals(specs.filter((t) => t.isNorm).length, 1 + 2 * 5);
});

Deno.test("chooseLlamaShape hits targets from 50K to 7B params with valid heads", () => {
  for (const target of [50e3, 130e3, 1e6, 1e7, 1e8, 2 ** 29, 7e9]) {
    const s = chooseLlamaShape(target);
    const err = Math.abs(llamaParamCount(s) - target) / target;
    assert(err < 0.01, `${target}: ${JSON.stringify(s)} off by ${err}`);
    assert(Number.isInteger(headDim(s)) && s.nHead % s.nHeadKv === 0, JSON.stringify(s));
    assert(s.nFf % 16 === 0 && s.nEmbd % 32 === 0, JSON.stringify(s));
    assertEquals(s.nVocab, 512);
  }
  const s = chooseLlamaShape(1e8, { nVocab: 32000, contextLength: 4096 });
  assertEquals([s.nVocab, s.contextLength], [32000, 4096]);
  assertThrows(() => chooseLlamaShape(1000), /too small/);
  assertThrows(() => chooseLlamaShape(-1), /positive/);
});

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { isLodeError } from "../errors.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import type { Vocabulary } from "./backend.ts";
import { LLAMA_CPP_RELEASE, openFfiVocabulary } from "./llama_cpp_ffi_vocabulary.ts";
import { LlamaCppVocabulary } from "./llama_cpp_vocabulary.ts";

const MODEL = fileURLToPath(new URL("../../tests/fixtures/stories260K.gguf", import.meta.url));

/** The addon's way (node-llama-cpp's vocabulary-only model) and the FFI way, side by side. */
async function withBoth(fn: (addon: Vocabulary, ffi: Vocabulary) => void | Promise<void>): Promise<void> {
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  const addon = new LlamaCppVocabulary(
    await llama.loadModel({ modelPath: MODEL, vocabOnly: true }),
    () => {},
  );
  const reasons: string[] = [];
  const ffi = await openFfiVocabulary(MODEL, { onUnavailable: (r) => reasons.push(r) });
  try {
    assert.ok(ffi, `the FFI way is unavailable: ${reasons.join("; ")}`);
    await fn(addon, ffi);
  } finally {
    await ffi?.close();
    await addon.close();
    await llama.dispose();
  }
}

/** A seeded pseudo-random generator (mulberry32), so a failure names a reproducible case. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("FFI vocabulary: the same ids as node-llama-cpp for every kind of text", async () => {
  await withBoth((addon, ffi) => {
    const texts = [
      "Once upon a time there was",
      "",
      " ",
      "  leading and trailing  ",
      "tabs\tand\nnew\r\nlines",
      "é 漢字 🙂 👩‍👩‍👧 e\u0301",
      "<s>[INST] special-looking text </s> <unk>",
      "a lone surrogate \ud800 here, and \udfff",
      "a NUL \0 inside",
      "x".repeat(5000), // more ids than the kept id buffer's first size
      "Once upon a time. ".repeat(60_000), // > 1 MiB of UTF-8: a one-off buffer
    ];
    const next = random(6);
    for (let i = 0; i < 200; i++) {
      // Random code points from ASCII to astral planes, surrogate halves included.
      const length = Math.floor(next() * 40);
      texts.push(String.fromCodePoint(
        ...Array.from({ length }, () => {
          const r = next();
          return r < 0.6
            ? 32 + Math.floor(next() * 95)
            : r < 0.9
            ? Math.floor(next() * 0xffff)
            : Math.floor(next() * 0x10ffff);
        }),
      ));
    }
    for (const text of texts) {
      assert.deepEqual(ffi.tokenize(text), addon.tokenize(text), JSON.stringify(text.slice(0, 80)));
    }
  });
});

Deno.test("FFI vocabulary: the same text as node-llama-cpp for every id and random sequences", async () => {
  await withBoth((addon, ffi) => {
    const size = 512; // stories260K
    for (let id = 0; id < size; id++) assert.equal(ffi.detokenize([id]), addon.detokenize([id]), `[${id}]`);
    const next = random(7);
    for (let i = 0; i < 300; i++) {
      // Byte tokens cut in the middle of a character included: the same U+FFFD as the addon.
      const tokens = Array.from({ length: Math.floor(next() * 30) }, () => Math.floor(next() * size));
      assert.equal(ffi.detokenize(tokens), addon.detokenize(tokens), JSON.stringify(tokens));
    }
    const long = ffi.tokenize("Once upon a time. ".repeat(20_000));
    assert.equal(ffi.detokenize(long), addon.detokenize(long));
    assert.equal(ffi.detokenize([]), "");
  });
});

Deno.test("FFI vocabulary: a bad id or a bad argument is a USAGE error, as with the addon", async () => {
  await withBoth((addon, ffi) => {
    for (const bad of [[-1], [512], [1, 2.5], [2 ** 31], "text" as unknown as number[]]) {
      assert.throws(() => ffi.detokenize(bad), (e) => isLodeError(e, "USAGE"));
      assert.throws(() => addon.detokenize(bad), (e) => isLodeError(e, "USAGE"));
    }
    assert.throws(() => ffi.tokenize(42 as unknown as string), (e) => isLodeError(e, "USAGE"));
  });
});

Deno.test("FFI vocabulary: close frees it once, tells onClosed, and refuses later calls", async () => {
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  try {
    const closed: Vocabulary[] = [];
    const ffi = await openFfiVocabulary(MODEL, { onClosed: (v) => closed.push(v) });
    assert.ok(ffi);
    await ffi.close();
    await ffi.close();
    assert.deepEqual(closed, [ffi]);
    assert.throws(() => ffi.tokenize("hi"), (e) => isLodeError(e, "INFERENCE_FAILED"));
    assert.throws(() => ffi.detokenize([1]), (e) => isLodeError(e, "INFERENCE_FAILED"));
  } finally {
    await llama.dispose();
  }
});

Deno.test("FFI vocabulary: a file llama.cpp cannot read is MODEL_LOAD_FAILED", async () => {
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  try {
    await withTempDir(async (dir) => {
      const path = `${dir}/not.gguf`;
      await Deno.writeTextFile(path, "GGUF but not really");
      await assert.rejects(openFfiVocabulary(path), (e) => isLodeError(e, "MODEL_LOAD_FAILED"));
    });
  } finally {
    await llama.dispose();
  }
});

Deno.test("FFI vocabulary: unavailable (null, with the reason) for a library of another release or none", async () => {
  await withTempDir(async (dir) => {
    const library = `${dir}/libllama.so`;
    await Deno.writeTextFile(library, "not a library: never opened");
    const reasons: string[] = [];
    const onUnavailable = (r: string) => reasons.push(r);

    assert.equal(await openFfiVocabulary(MODEL, { library, onUnavailable }), null); // no metadata beside it
    const metadata = (release: string) => ({ buildOptions: { llamaCpp: { release } } });
    await Deno.writeTextFile(`${dir}/_nlcBuildMetadata.json`, JSON.stringify(metadata("v9.9.9")));
    assert.equal(await openFfiVocabulary(MODEL, { library, onUnavailable }), null);
    assert.match(reasons[0]!, /\(unknown\), not v0\.4\.0/);
    assert.match(reasons[1]!, /llama\.cpp v9\.9\.9, not v0\.4\.0/);

    // The right release, but a file that is no library: refused by dlopen, still null.
    await Deno.writeTextFile(`${dir}/_nlcBuildMetadata.json`, JSON.stringify(metadata(LLAMA_CPP_RELEASE)));
    assert.equal(await openFfiVocabulary(MODEL, { library, onUnavailable }), null);
    assert.match(reasons[2]!, /libllama\.so: /);
  });
});

Deno.test("FFI vocabulary: unavailable in a process where node-llama-cpp has loaded no libllama", async () => {
  const module = new URL("./llama_cpp_ffi_vocabulary.ts", import.meta.url).href;
  const script = `import { openFfiVocabulary } from ${JSON.stringify(module)};
    const reasons = [];
    const vocabulary = await openFfiVocabulary(${
    JSON.stringify(MODEL)
  }, { onUnavailable: (r) => reasons.push(r) });
    console.log(JSON.stringify({ vocabulary, reasons }));`;
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stderr: "inherit",
  })
    .output();
  assert.equal(code, 0);
  const { vocabulary, reasons } = JSON.parse(new TextDecoder().decode(stdout));
  assert.equal(vocabulary, null);
  assert.match(reasons[0], /no libllama is loaded in this process/);
});

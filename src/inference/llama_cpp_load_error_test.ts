import assert from "node:assert/strict";
import { isLodeError } from "../errors.ts";
import { LlamaLogTail, loadFailedError } from "./llama_cpp_load_error.ts";

Deno.test("LlamaLogTail keeps warnings and worse, the last 20, and gives a load the lines it logged", () => {
  const tail = new LlamaLogTail();
  tail.record("warn", "before");
  const mark = tail.mark();
  tail.record("info", "not kept");
  tail.record("debug", "not kept either");
  tail.record("error", "llama_model_load: error loading model: tensor 'x' is corrupted");
  assert.deepEqual(tail.since(mark), ["llama_model_load: error loading model: tensor 'x' is corrupted"]);
  for (let i = 0; i < 30; i++) tail.record("warn", `w${i}`);
  assert.deepEqual(tail.since(mark).length, 20, "only the last 20 are kept");
  assert.equal(tail.since(mark).at(-1), "w29");
  assert.deepEqual(tail.since(tail.mark()), []);
});

Deno.test("loadFailedError: llama.cpp's own words when it logged them, else node-llama-cpp's error explained", () => {
  const logged = loadFailedError("m.gguf", new Error("failed"), [
    "llama_model_load_from_file_impl: failed to load model",
    "llama_model_load: error loading model: tensor 'x' is corrupted",
  ]);
  assert.ok(isLodeError(logged, "MODEL_LOAD_FAILED"));
  assert.equal(logged.message, "could not load a model from m.gguf: tensor 'x' is corrupted");
  assert.equal(logged.details?.reason, "failed");

  const magic = loadFailedError("notes.gguf", new Error("Invalid GGUF magic"), []);
  assert.equal(magic.message, "could not load a model from notes.gguf: not a GGUF file (Invalid GGUF magic)");
  const cut = loadFailedError(
    "cut.gguf",
    new RangeError("offset out of bounds"),
    [],
    "could not read cut.gguf",
  );
  assert.match(
    cut.message,
    /^could not read cut\.gguf: the GGUF header could not be read; the file is truncated/,
  );
});

import assert from "node:assert/strict";
import { createLineReader, readAllLines } from "./line_reader.ts";

const bytes = (...parts: string[]) => ReadableStream.from(parts.map((p) => new TextEncoder().encode(p)));

Deno.test("line reader: lines split across chunks, \\r\\n, a last line without newline, empty lines kept", async () => {
  assert.deepEqual(await readAllLines(bytes("He", "llo\r\n\nwor", "ld\nlast")), [
    "Hello",
    "",
    "world",
    "last",
  ]);
  assert.deepEqual(await readAllLines(bytes("")), []);
  assert.deepEqual(await readAllLines(bytes("one\n")), ["one"]);
});

Deno.test("line reader: a line is returned as soon as its newline arrives", async () => {
  let push: (s: string) => void = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (s) => controller.enqueue(new TextEncoder().encode(s));
    },
  });
  const read = createLineReader(stream);
  push("first\nsec");
  assert.equal(await read(), "first");
  const second = read();
  push("ond\n");
  assert.equal(await second, "second");
});

Deno.test("line reader: multi-byte characters split between chunks", async () => {
  const euro = new TextEncoder().encode("€\n");
  const stream = ReadableStream.from([euro.subarray(0, 1), euro.subarray(1)]);
  assert.deepEqual(await readAllLines(stream), ["€"]);
});

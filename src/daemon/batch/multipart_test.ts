/**
 * The streaming multipart reader against bodies as `FormData` encodes them (what fetch and the openai
 * client send), cut into chunks of every small size so that a boundary split across chunks is read.
 */
import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { parseDisposition, readMultipart } from "./multipart.ts";

async function encoded(form: FormData): Promise<{ bytes: Uint8Array<ArrayBuffer>; type: string }> {
  const r = new Request("http://x/", { method: "POST", body: form });
  return { bytes: new Uint8Array(await r.arrayBuffer()), type: r.headers.get("content-type")! };
}

function chunked(bytes: Uint8Array<ArrayBuffer>, size: number): ReadableStream<Uint8Array<ArrayBuffer>> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function read(bytes: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>>, type: string) {
  const files: { name: string; filename: string; text: string }[] = [];
  const form = await readMultipart(
    new Request("http://x/", { method: "POST", body: bytes, headers: { "content-type": type } }),
    {
      onFile: async (part) => {
        files.push({
          name: part.name,
          filename: part.filename,
          text: await new Response(part.stream).text(),
        });
      },
    },
  );
  return { fields: Object.fromEntries(form.fields), files };
}

Deno.test("readMultipart: fields and a file, whatever the chunk size", async () => {
  const content = "line one\r\n--not the boundary\r\nline two\n".repeat(50);
  const form = new FormData();
  form.append("file", new File([content], "in put.jsonl", { type: "application/jsonl" }));
  form.append("purpose", "batch");
  const { bytes, type } = await encoded(form);
  for (const size of [1, 2, 3, 7, 64, 1000, bytes.length]) {
    const got = await read(chunked(bytes, size), type);
    assert.deepEqual(got.fields, { purpose: "batch" }, `chunks of ${size}`);
    assert.deepEqual(
      got.files,
      [{ name: "file", filename: "in put.jsonl", text: content }],
      `chunks of ${size}`,
    );
  }
});

Deno.test("readMultipart: an empty file, and a body that is not multipart or is cut short", async () => {
  const form = new FormData();
  form.append("purpose", "batch");
  form.append("file", new File([], "empty.jsonl"));
  const { bytes, type } = await encoded(form);
  assert.deepEqual((await read(bytes, type)).files, [{ name: "file", filename: "empty.jsonl", text: "" }]);

  const refused = async (body: Uint8Array<ArrayBuffer>, contentType: string, pattern: RegExp) => {
    await assert.rejects(
      read(body, contentType),
      (e) => isLodeError(e, "BAD_REQUEST") && pattern.test(e.message),
    );
  };
  await refused(bytes, "application/json", /must be multipart\/form-data/);
  await refused(bytes, "multipart/form-data", /no boundary/);
  await refused(
    bytes.slice(0, bytes.length - 40),
    type,
    /ends inside the file|closing boundary|no end to its headers/,
  );
});

Deno.test("parseDisposition: quoted, escaped and RFC 5987 file names", () => {
  assert.deepEqual(parseDisposition('form-data; name="file"; filename="a \\"b\\".jsonl"'), {
    name: "file",
    filename: 'a "b".jsonl',
  });
  assert.deepEqual(parseDisposition("form-data; name=purpose"), { name: "purpose" });
  assert.deepEqual(
    parseDisposition(`form-data; name="file"; filename="x.jsonl"; filename*=UTF-8''%C3%A9t%C3%A9.jsonl`),
    { name: "file", filename: "été.jsonl" },
  );
});

/**
 * The Files API's files on disk: streamed in, listed in creation order, too large ones leaving nothing,
 * a batch's output registered, deletion, and what a restarted daemon finds.
 */
import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { FileStore } from "./file_store.ts";

const stream = (text: string) => new Blob([text]).stream();

Deno.test("FileStore: create, get, open, list, delete; a new FileStore on the same store sees them", async () => {
  await withTempDir(async (root) => {
    const files = new FileStore(root);
    const a = await files.create(stream("{}\n"), {
      filename: "a.jsonl",
      purpose: "batch",
      maxBytes: 100,
      now: 1_000,
    });
    const b = await files.create(stream("[]\n[]\n"), {
      filename: "b.jsonl",
      purpose: "batch",
      maxBytes: 100,
    });
    assert.match(a.id, /^file-[0-9a-z]{25}$/);
    assert.deepEqual(a, {
      id: a.id,
      object: "file",
      bytes: 3,
      created_at: 1,
      filename: "a.jsonl",
      purpose: "batch",
      status: "processed",
      expires_at: null,
      status_details: null,
    });
    const again = new FileStore(root);
    assert.deepEqual((await again.list()).map((f) => f.id), [a.id, b.id]);
    const { file } = await again.open(b.id);
    assert.equal(await new Response(file.readable).text(), "[]\n[]\n");
    await again.delete(a.id);
    assert.deepEqual((await files.list()).map((f) => f.id), [b.id]);
    await assert.rejects(
      files.get(a.id),
      (e) => isLodeError(e, "FILE_NOT_FOUND") && /No such File object/.test(e.message),
    );
    await assert.rejects(files.delete(a.id), (e) => isLodeError(e, "FILE_NOT_FOUND"));
    await assert.rejects(files.get("../../etc/passwd"), (e) => isLodeError(e, "FILE_NOT_FOUND"));
  }, { prefix: "lode-files-" });
});

Deno.test("FileStore: an upload over the limit is FRAME_TOO_LARGE and leaves no file, not even a temp one", async () => {
  await withTempDir(async (root) => {
    const files = new FileStore(root);
    await assert.rejects(
      files.create(stream("x".repeat(101)), { filename: "big.jsonl", purpose: "batch", maxBytes: 100 }),
      (e) => isLodeError(e, "FRAME_TOO_LARGE") && e.details.limit === 100,
    );
    assert.deepEqual([...Deno.readDirSync(files.dir)], []);
  }, { prefix: "lode-files-" });
});

Deno.test("FileStore: a batch's output is listed once registered", async () => {
  await withTempDir(async (root) => {
    const files = new FileStore(root);
    const id = "file-000000001aaaaaaaaaaaaaaaa";
    await Deno.mkdir(files.dir, { recursive: true });
    await Deno.writeTextFile(files.dataPath(id), '{"custom_id":"a"}\n');
    assert.equal(await files.has(id), false);
    assert.deepEqual(await files.list(), []);
    await files.register(id, { filename: "batch_x_output.jsonl", purpose: "batch_output", bytes: 18 });
    assert.equal((await files.get(id)).purpose, "batch_output");
    assert.equal(files.relativeDataPath(id), `files/${id}.data`);
  }, { prefix: "lode-files-" });
});

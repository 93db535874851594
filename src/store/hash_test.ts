import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { digestsEqual, HASH_READ_BYTES, sha256Bytes, sha256File } from "./hash.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";

const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const HELLO = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-hash-" });

/** Random bytes (so an off-by-one read or a repeated block would change the digest). */
function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

function reference(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

Deno.test("sha256File: known digests of an empty file and of 'hello world'", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    await Deno.writeTextFile(`${dir}/hello`, "hello world");
    assert.equal(await sha256File(`${dir}/empty`), EMPTY);
    assert.equal(await sha256File(`${dir}/hello`), HELLO);
  });
});

Deno.test("sha256File: files larger than, and an exact multiple of, the read size", async () => {
  assert.equal(HASH_READ_BYTES, 8 * 1024 * 1024);
  await withDir(async (dir) => {
    const all = randomBytes(2 * HASH_READ_BYTES);
    for (const size of [HASH_READ_BYTES - 1, HASH_READ_BYTES, HASH_READ_BYTES + 1, 2 * HASH_READ_BYTES]) {
      const bytes = all.subarray(0, size);
      await Deno.writeFile(`${dir}/f`, bytes);
      const progress: number[] = [];
      const hex = await sha256File(`${dir}/f`, { onProgress: (n) => progress.push(n) });
      assert.equal(hex, reference(bytes), `size ${size}`);
      assert.equal(progress.at(-1), size, `size ${size}`);
      // Progress is monotonic and reports whole reads.
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
      assert.equal(progress.length, Math.ceil(size / HASH_READ_BYTES), `size ${size}`);
    }
  });
});

Deno.test("sha256File: an aborted signal stops it and closes the file", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/hello`, "hello world");
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(sha256File(`${dir}/hello`, { signal: controller.signal }), /stop/);
  });
});

Deno.test("sha256File: a missing file rejects with NotFound", async () => {
  await withDir(async (dir) => {
    await assert.rejects(sha256File(`${dir}/nope`), Deno.errors.NotFound);
  });
});

Deno.test("sha256Bytes of strings and bytes", () => {
  assert.equal(sha256Bytes(""), EMPTY);
  assert.equal(sha256Bytes("hello world"), HELLO);
  assert.equal(sha256Bytes(new TextEncoder().encode("hello world")), HELLO);
});

Deno.test("digestsEqual: equal, case-insensitive, unequal, and different lengths", () => {
  assert.equal(digestsEqual(HELLO, HELLO), true);
  assert.equal(digestsEqual(HELLO, HELLO.toUpperCase()), true);
  assert.equal(digestsEqual(HELLO.toUpperCase(), HELLO), true);
  assert.equal(digestsEqual(HELLO, EMPTY), false);
  assert.equal(digestsEqual(HELLO, HELLO.slice(0, 63)), false);
  assert.equal(digestsEqual(HELLO, HELLO + "0"), false);
  assert.equal(digestsEqual("", HELLO), false);
  assert.equal(digestsEqual("", ""), true);
});

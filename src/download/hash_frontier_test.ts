import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { HashFrontier } from "./hash_frontier.ts";

Deno.test("the frontier hashes a growing prefix and ends with the digest of the whole file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = crypto.getRandomValues(new Uint8Array(60_000));
    const path = `${dir}/f`;
    using file = await Deno.open(path, { write: true, create: true });
    const frontier = new HashFrontier(path);
    // Write in uneven steps, advancing after each (some advances arrive while a catch-up runs).
    let written = 0;
    for (const step of [1, 4095, 10_000, 1, 20_000, 25_903]) {
      await file.write(bytes.subarray(written, written + step));
      written += step;
      frontier.advance(written);
      if (step > 5000) await new Promise((r) => setTimeout(r, 0));
    }
    assert.equal(await frontier.finish(bytes.length), createHash("sha256").update(bytes).digest("hex"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("finish raises the target itself, even while a catch-up is running", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = new Uint8Array(3 * 8 * 1024 * 1024 + 5).fill(7);
    await Deno.writeFile(`${dir}/f`, bytes);
    const frontier = new HashFrontier(`${dir}/f`);
    frontier.advance(8 * 1024 * 1024);
    assert.equal(await frontier.finish(bytes.length), createHash("sha256").update(bytes).digest("hex"));
    await assert.rejects(new HashFrontier(`${dir}/f`).finish(bytes.length + 1), /ended at/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bytes offered at the frontier are hashed in flight; others are read back later", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = new Uint8Array(30_000).map((_, i) => i % 251);
    await Deno.writeFile(`${dir}/f`, bytes);
    const frontier = new HashFrontier(`${dir}/f`);
    frontier.offer(bytes.subarray(0, 10_000), 0);
    frontier.offer(bytes.subarray(20_000), 20_000); // ahead of the frontier: ignored
    frontier.offer(bytes.subarray(10_000, 20_000), 10_000);
    assert.equal(frontier.inline, 20_000);
    assert.equal(await frontier.finish(bytes.length), createHash("sha256").update(bytes).digest("hex"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

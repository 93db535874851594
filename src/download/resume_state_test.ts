import assert from "node:assert/strict";
import { bootId, readResumeState, type ResumeState, writeResumeState } from "./resume_state.ts";

const base: Omit<ResumeState, "updated_at"> = {
  version: 1,
  url: "https://127.0.0.1/f",
  size: 300,
  etag: '"v"',
  last_modified: null,
  parts: [{ start: 0, end: 100, done: 100 }, { start: 100, end: 300, done: 150 }],
  hashed: 100,
};

Deno.test("readResumeState: written parts in the same boot, synced parts after a reboot, old sidecars as they are", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const synced = [{ start: 0, end: 100, done: 60 }, { start: 100, end: 300, done: 0 }];
    await writeResumeState(dir, { ...base, boot_id: await bootId(), synced_parts: synced });
    assert.deepEqual((await readResumeState(dir))?.parts, base.parts);

    await writeResumeState(dir, { ...base, boot_id: "another-boot", synced_parts: synced });
    assert.deepEqual((await readResumeState(dir))?.parts, synced);

    // Another boot and nothing recorded as synced: nothing can be trusted.
    await writeResumeState(dir, { ...base, boot_id: "another-boot" });
    assert.equal(await readResumeState(dir), null);

    // A sidecar without boot_id was written after syncing its data.
    await writeResumeState(dir, base);
    assert.deepEqual((await readResumeState(dir))?.parts, base.parts);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

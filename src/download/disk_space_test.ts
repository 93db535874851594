import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { checkDiskSpace, DEFAULT_CUSHION_BYTES, freeBytes } from "./disk_space.ts";
import { withTempDir } from "../../tests/support/temp_dir.ts";

const withDir = (body: (dir: string) => Promise<void>) => withTempDir(body, { prefix: "lode-disk-" });

Deno.test("freeBytes of a real directory is a positive whole number", async () => {
  await withDir(async (dir) => {
    const free = await freeBytes(dir);
    assert.equal(typeof free, "number");
    assert.ok(Number.isSafeInteger(free) && free! > 0, String(free));
  });
});

Deno.test("freeBytes of a nonexistent nested path walks up to an existing parent", async () => {
  await withDir(async (dir) => {
    const direct = await freeBytes(dir);
    const nested = await freeBytes(`${dir}/no/such/store/blobs/sha256/ab`);
    assert.ok(nested !== null && nested > 0);
    // Same filesystem: the same figure, give or take what other processes write meanwhile.
    assert.ok(Math.abs(nested - direct!) < 256 * 1024 * 1024, `${nested} vs ${direct}`);
    // A relative path that does not exist walks up to "." too.
    assert.ok(((await freeBytes("no-such-dir-lode/x")) ?? 0) > 0);
  });
});

Deno.test("checkDiskSpace: a size that fits passes", async () => {
  await withDir(async (dir) => {
    await checkDiskSpace(dir, { neededBytes: 1, cushionBytes: 0 });
    await checkDiskSpace(`${dir}/not/yet/created`, { neededBytes: 1024, cushionBytes: 1024 });
  });
});

Deno.test("checkDiskSpace: a huge cushion is INSUFFICIENT_SPACE with details", async () => {
  await withDir(async (dir) => {
    const cushion = 2 ** 62;
    const err = await checkDiskSpace(dir, { neededBytes: 1000, cushionBytes: cushion }).then(
      () => assert.fail("passed"),
      (e) => e,
    );
    assert.ok(err instanceof LodeError);
    assert.equal(err.code, "INSUFFICIENT_SPACE");
    assert.equal(err.exitCode, 8);
    assert.equal(err.details.path, dir);
    assert.equal(err.details.needed_bytes, 1000);
    assert.equal(err.details.cushion_bytes, cushion);
    assert.equal(typeof err.details.available_bytes, "number");
    assert.ok((err.details.available_bytes as number) > 0);
    assert.match(err.message, /not enough disk space/);
    assert.ok(err.message.includes(dir));
  });
});

Deno.test("checkDiskSpace: the default cushion is 512 MiB and applies when none is given", async () => {
  assert.equal(DEFAULT_CUSHION_BYTES, 512 * 1024 * 1024);
  await withDir(async (dir) => {
    const free = (await freeBytes(dir))!;
    // Needs what is free: fits without a cushion, not with the default one.
    const err = await checkDiskSpace(dir, { neededBytes: free - DEFAULT_CUSHION_BYTES / 2 }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof LodeError && err.code === "INSUFFICIENT_SPACE", String(err));
    assert.equal(err.details.cushion_bytes, DEFAULT_CUSHION_BYTES);
  });
});

Deno.test("checkDiskSpace: an unknown (null) size passes", async () => {
  await withDir(async (dir) => {
    await checkDiskSpace(dir, { neededBytes: null, cushionBytes: 2 ** 62 });
  });
});

Deno.test("freeBytes agrees with df (available to this user, in bytes)", async () => {
  await withDir(async (dir) => {
    const out = await new Deno.Command("df", { args: ["-B1", "--output=avail", dir] }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const df = Number(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1));
    const ours = (await freeBytes(dir))!;
    assert.ok(Math.abs(ours - df) < 1024 * 1024 * 1024, `freeBytes ${ours} vs df ${df}`);
  });
});

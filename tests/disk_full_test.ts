/**
 * A disk that fills up mid-download (a real 600 KiB tmpfs as the store, an
 * origin that does not announce the size so the preflight cannot refuse it):
 * INSUFFICIENT_SPACE, exit 8, and the store exactly as it was.
 */
import assert from "node:assert/strict";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { listTree, runLode } from "./support/lode_cli.ts";

const BYTES = await Deno.readFile(new URL("./fixtures/stories260K.gguf", import.meta.url));

async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const out = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir] })
    .output().catch(() => null);
  return out?.success === true;
}

/** Null when this process can mount a tmpfs, else why not (the test is then reported as ignored). */
async function tmpfsMissing(): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "lode-mount-probe-" });
  try {
    if (!(await mountTmpfs(dir, "64k"))) return "mounting a tmpfs needs root (CAP_SYS_ADMIN)";
    await new Deno.Command("umount", { args: [dir] }).output();
    return null;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const missing = await tmpfsMissing();
if (missing) console.log(`disk_full_test.ts: SKIPPED, ${missing}`);

Deno.test({
  name: "disk full mid-download: INSUFFICIENT_SPACE, exit 8, nothing left behind",
  ignore: missing !== null,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "lode-full-" });
  const store = `${dir}/store`;
  await Deno.mkdir(store);
  if (!(await mountTmpfs(store, "600k"))) {
    await Deno.remove(dir, { recursive: true });
    assert.fail("mounting the 600 KiB tmpfs failed");
  }
  const ca = await makeTestCa(`${dir}/ca`);
  const head = new TextEncoder().encode(
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
  );
  const raw = new Uint8Array(head.length + BYTES.length);
  raw.set(head);
  raw.set(BYTES, head.length);
  const origin = await startOrigin({ tls: ca, routes: { "/m.gguf": { handler: () => ({ raw }) } } });
  try {
    await t.step("the pull fails with INSUFFICIENT_SPACE", async () => {
      const r = await runLode(["--ca-cert", ca.caCertPath, "pull", `${origin.url}/m.gguf`, "--json"], {
        store,
        env: { LODE_MIN_FREE_BYTES: "0" },
      });
      assert.equal(r.code, 8, r.stdout + r.stderr);
      assert.equal(r.events.find((e) => e.event === "failed")?.code, "INSUFFICIENT_SPACE");
    });
    await t.step("and leaves no manifest, no blob, no partial", async () => {
      assert.deepEqual((await listTree(store)).filter((p) => !p.startsWith("locks/")), []);
    });
  } finally {
    await origin.close();
    await new Deno.Command("umount", { args: [store] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "disk full: an import fails with INSUFFICIENT_SPACE leaving no file; an export that does not fit is refused before a byte, one that hits a full disk leaves no partial",
  ignore: missing !== null,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "lode-full-" });
  const full = `${dir}/full`;
  const noInodes = `${dir}/no-inodes`;
  const store = `${dir}/store`;
  await Deno.mkdir(full);
  await Deno.mkdir(noInodes);
  // 600 KiB for a 1.1 MB model; and a disk with room but no inode left for a new file.
  if (!(await mountTmpfs(full, "600k")) || !(await mountTmpfs(noInodes, "8m,nr_inodes=1"))) {
    await Deno.remove(dir, { recursive: true });
    assert.fail("mounting the tmpfs failed");
  }
  const model = `${dir}/m.gguf`;
  await Deno.writeFile(model, BYTES);
  const errorOf = (r: { events: Record<string, unknown>[] }) =>
    r.events.find((e) => e.event === "error") as { code: string; message: string; hint: string } | undefined;
  try {
    await t.step("an import into a store on the full disk: exit 8, no file left behind", async () => {
      const r = await runLode(["import", model, "--name", "m", "--json"], {
        store: full,
        env: { LODE_MIN_FREE_BYTES: "0" },
      });
      assert.equal(r.code, 8, r.stdout + r.stderr);
      assert.equal(errorOf(r)?.code, "INSUFFICIENT_SPACE");
      assert.deepEqual((await listTree(full)).filter((p) => !p.startsWith("locks/")), []);
    });
    const imported = await runLode(["import", model, "--name", "m"], { store });
    assert.equal(imported.code, 0, imported.stderr);
    await t.step("an export larger than the free space is refused before a byte is written", async () => {
      const r = await runLode(["export", "m", `${full}/m.lode`, "--json"], { store });
      assert.equal(r.code, 8, r.stdout + r.stderr);
      const error = errorOf(r);
      assert.equal(error?.code, "INSUFFICIENT_SPACE");
      assert.match(error!.message, /not enough disk space for .*m\.lode: the bundle is .*, .* free there/);
      assert.match(error!.hint, /export to another one/);
      assert.deepEqual((await listTree(full)).filter((p) => !p.startsWith("locks/")), []);
    });
    await t.step("an export onto a disk that fills up: exit 8, no bundle and no partial file", async () => {
      const r = await runLode(["export", "m", `${noInodes}/m.lode`, "--json"], { store });
      assert.equal(r.code, 8, r.stdout + r.stderr);
      const error = errorOf(r);
      assert.equal(error?.code, "INSUFFICIENT_SPACE");
      assert.match(error!.message, /cannot write .*m\.lode: its disk is full/);
      assert.match(error!.hint, /export to another one/);
      assert.deepEqual(await listTree(noInodes), []);
    });
    await t.step("the store's copy is untouched", async () => {
      const verified = await runLode(["verify", "m"], { store });
      assert.equal(verified.code, 0, verified.stderr);
    });
  } finally {
    for (const mount of [full, noInodes]) await new Deno.Command("umount", { args: [mount] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});

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

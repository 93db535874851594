import assert from "node:assert/strict";
import { isLodeError, LodeError } from "../errors.ts";
import type { SyncCheckEvent, SyncModelEvent } from "../events/lock_event.ts";
import type { ModelPlan } from "../registry/registry.ts";
import { importModelFile, ModelStore, sha256Bytes } from "../store/mod.ts";
import { emptyLockfile, type LockEntry, type Lockfile, withEntry } from "./lockfile.ts";
import { syncLockfile, type SyncOptions } from "./sync.ts";
import { ggufWith } from "../../tests/support/gguf_bytes.ts";

// Models as the store accepts them: well-formed GGUF files holding distinct bytes.
const A = ggufWith(new TextEncoder().encode("model A bytes\n".repeat(1000)));
const B = ggufWith(new TextEncoder().encode("model B bytes\n".repeat(2000)));
const BYTES: Record<string, Uint8Array> = { "https://h.test/a.gguf": A, "https://h.test/b.gguf": B };

function entry(name: string, url: string, pinned = true): LockEntry {
  const bytes = BYTES[url]!;
  return {
    name,
    reference: url,
    registry: "h.test",
    repo: "",
    revision: "",
    files: [{
      role: "model",
      filename: url.split("/").pop()!,
      url,
      ...(pinned ? { sha256: sha256Bytes(bytes), size: bytes.length } : {}),
    }],
  };
}

interface Harness {
  store: ModelStore;
  pulled: string[];
  events: (SyncCheckEvent | SyncModelEvent)[];
  options(extra?: Partial<SyncOptions>): SyncOptions;
}

/** A store and a fake pull that "downloads" from BYTES through importModelFile (a committing writer). */
async function withStore(body: (h: Harness) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-sync-" });
  try {
    const store = await ModelStore.open(`${dir}/store`);
    const pulled: string[] = [];
    const events: (SyncCheckEvent | SyncModelEvent)[] = [];
    const pull = async (plan: ModelPlan) => {
      pulled.push(plan.name);
      const url = plan.files[0]!.url;
      if (!BYTES[url]) throw new LodeError("HTTP_NOT_FOUND", `404 ${url}`);
      const tmp = `${dir}/${crypto.randomUUID()}`;
      await Deno.writeFile(tmp, BYTES[url]!);
      await importModelFile(store, tmp, { name: plan.name, expectedSha256: plan.files[0]!.sha256 });
      return { cached: false };
    };
    await body({
      store,
      pulled,
      events,
      options: (extra = {}) => ({ store, pull, emit: (e) => events.push(e), ...extra }),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function lockOf(...entries: LockEntry[]): Lockfile {
  return entries.reduce(withEntry, emptyLockfile());
}

Deno.test("sync pulls what is missing, then trusts what it wrote; a shared blob is checked once", async () => {
  await withStore(async (h) => {
    const lock = lockOf(entry("a", "https://h.test/a.gguf"), entry("a2", "https://h.test/a.gguf"));
    const first = await syncLockfile(lock, h.options());
    assert.equal(first.error, null);
    assert.deepEqual(first.models.map((m) => [m.name, m.status]), [["a", "pulled"], ["a2", "pulled"]]);
    assert.equal(h.events.filter((e) => e.event === "sync_check").length, 1);
    h.pulled.length = 0;
    const second = await syncLockfile(lock, h.options());
    assert.deepEqual(second.models.map((m) => m.status), ["ok", "ok"]);
    assert.deepEqual(second.blobs.map((b) => b.status), ["trusted"]);
    assert.equal(second.hashedBytes, 0);
    assert.deepEqual(h.pulled, []);
  });
});

Deno.test("frozen with an unpinned file fails before any check or pull", async () => {
  await withStore(async (h) => {
    const lock = lockOf(entry("a", "https://h.test/a.gguf", false));
    await assert.rejects(
      syncLockfile(lock, h.options({ frozen: true })),
      (e) => isLodeError(e, "LOCKFILE_FROZEN") && /a: a\.gguf/.test(e.message),
    );
    assert.deepEqual(h.pulled, []);
    assert.deepEqual(h.events, []);
    const pinned = await syncLockfile(lock, h.options());
    assert.equal(pinned.changed, true);
    assert.equal(pinned.lock.models[0]!.files[0]!.sha256, sha256Bytes(A));
    assert.equal(pinned.lock.models[0]!.files[0]!.size, A.length);
  });
});

Deno.test("one failed pull fails its model only; the others are still installed", async () => {
  await withStore(async (h) => {
    const broken = { ...entry("x", "https://h.test/a.gguf"), name: "x" };
    broken.files = [{ ...broken.files[0]!, url: "https://h.test/404.gguf" }];
    const outcome = await syncLockfile(lockOf(entry("b", "https://h.test/b.gguf"), broken), h.options());
    assert.deepEqual(outcome.models.map((m) => [m.name, m.status]), [["b", "pulled"], ["x", "failed"]]);
    assert.equal(outcome.error?.code, "HTTP_NOT_FOUND");
  });
});

Deno.test("a locked size that disagrees with the bytes of the locked sha256 is a lockfile error", async () => {
  await withStore(async (h) => {
    await syncLockfile(lockOf(entry("a", "https://h.test/a.gguf")), h.options());
    const wrong = entry("a", "https://h.test/a.gguf");
    wrong.files[0]!.size = 5;
    const outcome = await syncLockfile(lockOf(wrong), h.options());
    assert.equal(outcome.models[0]?.status, "failed");
    assert.equal(outcome.error?.code, "LOCKFILE_INVALID");
  });
});

Deno.test("offline: models needing bytes are listed in one OFFLINE error, never pulled", async () => {
  await withStore(async (h) => {
    const outcome = await syncLockfile(
      lockOf(entry("a", "https://h.test/a.gguf"), entry("b", "https://h.test/b.gguf", false)),
      h.options({ offline: true }),
    );
    assert.deepEqual(h.pulled, []);
    assert.deepEqual(outcome.models.map((m) => m.status), ["missing", "missing"]);
    assert.equal(outcome.error?.code, "OFFLINE");
    assert.deepEqual(outcome.error?.details.missing, [
      `a: a.gguf sha256:${sha256Bytes(A).slice(0, 12)} (missing)`,
      "b: b.gguf (not pinned yet)",
    ]);
  });
});

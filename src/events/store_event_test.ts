import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { FailedEvent } from "./download_event.ts";
import { ErrorEvent } from "./error_event.ts";
import { GcEvent, ProblemEvent, StoreEvent } from "./store_event.ts";

const HEX = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

/** One event of each kind, as the commands print them today (README's `--json` sections). */
const SAMPLES: Record<string, unknown>[] = [
  { event: "collected", kind: "blob", path: "/s/blobs/sha256/27/x/data", bytes: 4096, dry_run: false },
  {
    event: "skipped",
    kind: "partial",
    path: "/s/blobs/sha256/27/.partial-x",
    bytes: 512,
    reason: "locked",
    last_write: "2025-01-01T00:00:00.000Z",
  },
  {
    event: "problem",
    ...new LodeError("MANIFEST_INVALID", "bad", { details: { path: "/b.json" } }).toJSON(),
  },
  {
    event: "gc_done",
    dry_run: true,
    removed: 1,
    bytes_freed: 4096,
    skipped_locked: 1,
    kept_recent: 0,
    quarantine_kept: { items: 0, bytes: 0 },
    verified_records_pruned: 0,
    older_than_ms: 86_400_000,
  },
  { event: "bundle_blob", name: "m", sha256: HEX, size_bytes: 10 },
  { event: "bundle_blob", sha256: HEX, size_bytes: 10, cached: true },
  { event: "exported", name: "m", file: "-", blob: `sha256:${HEX}`, blobs: 1, bundle_bytes: 12_288, ms: 3 },
  { event: "imported", name: "m", blob: `sha256:${HEX}`, size_bytes: 10, path: "/s/data" },
  {
    event: "imported",
    name: "m",
    blob: `sha256:${HEX}`,
    size_bytes: 10,
    path: "/s/data",
    bundle: "m.lode",
    blobs: 1,
    blobs_written: 0,
    already_present: true,
    replaced: null,
    ms: 2,
  },
  { event: "verified", name: "m", ok: true, expected: HEX, actual: HEX, sizeBytes: 10, ms: 1 },
  {
    event: "verified",
    name: "m",
    ok: false,
    expected: HEX,
    actual: null,
    problem: "BLOB_MISSING",
    sizeBytes: 0,
    files: [{
      filename: "m.gguf",
      role: "model",
      ok: false,
      expected: HEX,
      actual: null,
      problem: "BLOB_MISSING",
    }],
    ms: 1,
  },
  { event: "verify_done", models: 2, ok: 1, failed: 1, ms: 3 },
  {
    event: "model",
    name: "m",
    size_bytes: 10,
    digest: `sha256:${HEX}`,
    format: "gguf",
    source: "https://h/m.gguf",
    pinned: true,
  },
  { event: "removed", name: "m", blob_removed: true, blobs_removed: 1, blobs_kept: 0 },
  { event: "path", name: "m", path: "/s/data" },
  {
    event: "push_started",
    name: "m",
    reference: "oci://127.0.0.1:5000/m:v1",
    format: "docker",
    blobs: 2,
    total_bytes: 12,
  },
  {
    event: "push_blob",
    digest: `sha256:${HEX}`,
    size_bytes: 10,
    role: "model",
    filename: "m.gguf",
    skipped: false,
  },
  { event: "push_progress", digest: `sha256:${HEX}`, done_bytes: 5, total_bytes: 10 },
  {
    event: "pushed",
    name: "m",
    reference: "oci://127.0.0.1:5000/m:v1",
    digest: `sha256:${HEX}`,
    blobs: 2,
    blobs_uploaded: 1,
    blobs_skipped: 1,
    blobs_mounted: 0,
    bytes_uploaded: 10,
    ms: 3,
  },
  { event: "error", ...new LodeError("MODEL_NOT_FOUND", "no model m").toJSON() },
];

Deno.test("every store command's event parses, and parsing keeps it exactly", () => {
  for (const sample of SAMPLES) assert.deepEqual(StoreEvent.parse(sample), sample);
  const tags = new Set(SAMPLES.map((s) => s.event));
  assert.deepEqual(tags, new Set(StoreEvent.options.map((o) => o.shape.event.value)), "a sample per event");
});

Deno.test("a drifted field fails: renamed, missing, wrong type, unknown tag or enum value", () => {
  const done = SAMPLES.find((s) => s.event === "gc_done")!;
  const { bytes_freed, ...rest } = done;
  assert.throws(() => StoreEvent.parse({ ...rest, freed_bytes: bytes_freed }));
  assert.throws(() => StoreEvent.parse({ event: "path", name: "m" }));
  assert.throws(() =>
    StoreEvent.parse({ event: "removed", name: "m", blob_removed: 1, blobs_removed: 1, blobs_kept: 0 })
  );
  assert.throws(() => StoreEvent.parse({ event: "gc_finished" }));
  assert.throws(() =>
    GcEvent.parse({ event: "collected", kind: "manifest", path: "/p", bytes: 1, dry_run: false })
  );
  // gc's own union holds only what `collectGarbage` emits: its summary is the CLI's.
  assert.throws(() => GcEvent.parse(done));
});

Deno.test("the error event is exactly LodeError.toJSON() with its tag", () => {
  const e = new LodeError("DIGEST_MISMATCH", "bad bytes", { details: { expected: "a", actual: "b" } });
  const event = { event: "error", ...e.toJSON() };
  assert.deepEqual(ErrorEvent.parse(event), event);
  assert.equal(ErrorEvent.parse(event).hint, e.hint);
});

Deno.test("one error shape: error, a pull's failed and a manifest's problem all carry LodeError.toJSON()", () => {
  const fields = new LodeError("OFFLINE", "offline: not downloading m", { details: { url: "https://h/m" } })
    .toJSON();
  const events = [
    [ErrorEvent, { event: "error", ...fields }],
    [FailedEvent, { event: "failed", model: "m", ...fields }],
    [ProblemEvent, { event: "problem", ...fields }],
  ] as const;
  for (const [schema, event] of events) assert.deepEqual(schema.parse(event), event);
  // The message is `message` everywhere (a `failed` event once named it `error`), with a hint.
  assert.throws(() =>
    FailedEvent.parse({ event: "failed", model: "m", error: "offline", code: "OFFLINE", details: {} })
  );
  assert.throws(() =>
    ProblemEvent.parse({ event: "problem", code: "MANIFEST_INVALID", message: "bad", details: {} })
  );
});

import assert from "node:assert/strict";
import { describeStatus } from "./status.ts";

Deno.test("describeStatus: load phases, downloads with and without a known size, quarantine, the daemon's own states", () => {
  assert.equal(
    describeStatus({ status: "loading_model", phase: "kv_cache", n_ctx: 2048, model: "qwen3" }),
    "qwen3: loading — kv_cache, 2048 tokens of context",
  );
  const download = { status: "loading_model", phase: "download", model: "m", source_url: "https://h/m.gguf" };
  assert.equal(
    describeStatus({ ...download, downloaded_bytes: 1048576, total_bytes: 4194304 }),
    "m: loading — download 1.0 MiB of 4.0 MiB (25%) from https://h/m.gguf",
  );
  assert.equal(
    describeStatus({ ...download, downloaded_bytes: 512, total_bytes: null }),
    "m: loading — download 512 B from https://h/m.gguf",
  );
  assert.equal(
    describeStatus({ status: "restarting", phase: "checking_local", path: "/s/blobs/x", model: "m" }),
    "m: restarting — checking_local /s/blobs/x",
  );
  const restart = { status: "restarting", phase: "kv_cache", n_ctx: 512, model: "m" };
  assert.equal(
    describeStatus({ ...restart, reason: "context_size" }),
    "m: restarting (for another context size) — kv_cache, 512 tokens of context",
  );
  assert.equal(
    describeStatus({ ...restart, reason: "reload_failed" }),
    "m: restarting (back as it was: the reload failed) — kv_cache, 512 tokens of context",
  );
  assert.equal(
    describeStatus({ ...restart, phase: "checking_local", path: "/s/blobs/x", reason: "crashed" }),
    "m: restarting (its runner crashed) — checking_local /s/blobs/x",
  );
  assert.equal(
    describeStatus({ ...restart, reason: "new_one" }),
    "m: restarting (new_one) — kv_cache, 512 tokens of context",
  );
  assert.equal(
    describeStatus({
      status: "loading_model",
      phase: "quarantine",
      path: "/s/q/x",
      actual_sha256: "aa",
      expected_sha256: "bb",
    }),
    "loading — quarantine: /s/q/x has sha256 aa, expected bb",
  );
  assert.equal(
    describeStatus({ status: "load_failed", code: "MODEL_LOAD_FAILED", message: "bad tensor", model: "m" }),
    "m: load failed — MODEL_LOAD_FAILED: bad tensor",
  );
  assert.equal(
    describeStatus({ status: "unloaded", reason: "removed", model: "m" }),
    "m: unloaded (no longer in the store)",
  );
  assert.equal(
    describeStatus({ status: "unloaded", reason: "idle", model: "m" }),
    "m: unloaded (idle for its keep-alive)",
  );
  assert.equal(describeStatus({ status: "ready" }), "ready: accepting requests");
  assert.equal(describeStatus({ status: "ready", model: "m" }), "m: ready");
  assert.equal(
    describeStatus({ status: "draining" }),
    "draining: finishing requests in flight, refusing new ones",
  );
});

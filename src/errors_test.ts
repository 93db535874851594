import assert from "node:assert/strict";
import {
  asDaemonError,
  ERROR_CODES,
  type ErrorCode,
  EXIT,
  isLodeError,
  LodeError,
  toLodeError,
} from "./errors.ts";

Deno.test("EXIT: the documented process exit codes", () => {
  assert.deepEqual(EXIT, {
    OK: 0,
    INTERNAL: 1,
    USAGE: 2,
    NOT_FOUND: 3,
    VERIFY_FAILED: 4,
    NETWORK: 5,
    REFUSED: 6,
    LOCKED: 7,
    NO_SPACE: 8,
    STORE_CORRUPT: 9,
    INFERENCE: 10,
    INTERRUPTED: 130,
    OUTPUT_CLOSED: 141,
  });
});

Deno.test("every error code has a documented exit code and a non-empty hint", () => {
  const exits = new Set<number>(Object.values(EXIT));
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    assert.ok(exits.has(entry.exit), `${code}: exit ${entry.exit}`);
    assert.notEqual(entry.exit, EXIT.OK, code);
    assert.equal(typeof entry.hint, "string", code);
    assert.ok(entry.hint.trim().length > 10, `${code}: hint "${entry.hint}"`);
    const e = new LodeError(code as ErrorCode, "m");
    assert.equal(e.exitCode, entry.exit, code);
    assert.equal(e.hint, entry.hint, code);
  }
});

Deno.test("each code maps to the exit code its kind documents", () => {
  const expected: Record<ErrorCode, number> = {
    USAGE: 2,
    INVALID_REF: 2,
    OCI_UNSUPPORTED: 2,
    MODEL_NOT_FOUND: 3,
    HTTP_NOT_FOUND: 3,
    DIGEST_MISMATCH: 4,
    SIZE_MISMATCH: 4,
    HTTP_STATUS: 5,
    NETWORK: 5,
    TLS: 5,
    INSECURE_URL: 6,
    HOST_NOT_ALLOWED: 6,
    OFFLINE: 6,
    LOCK_CONTENDED: 7,
    INSUFFICIENT_SPACE: 8,
    MANIFEST_INVALID: 9,
    BLOB_MISSING: 9,
    IO: 1,
    MODEL_LOAD_FAILED: 10,
    INFERENCE_FAILED: 10,
    INTERRUPTED: 130,
    INTERNAL: 1,
    STALLED: 5,
    ORIGIN_CHANGED: 5,
    ACCESS_DENIED: 6,
    LOCKFILE_INVALID: 2,
    LOCKFILE_NOT_FOUND: 3,
    LOCKFILE_FROZEN: 6,
    BUNDLE_INVALID: 4,
    GGUF_INVALID: 4,
    SCHEMA_INVALID: 2,
    SCHEMA_MISMATCH: 10,
    INSUFFICIENT_MEMORY: 10,
    BAD_JSON: 2,
    FRAME_TOO_LARGE: 2,
    UNKNOWN_OP: 2,
    BAD_REQUEST: 2,
    QUEUE_FULL: 6,
    DRAINING: 6,
    DAEMON_RUNNING: 7,
    RUNNER_CRASHED: 10,
    CANCELLED: 130,
    DAEMON_NOT_RUNNING: 3,
    CONFIG_INVALID: 2,
    FILE_NOT_FOUND: 3,
    CONTEXT_LENGTH_EXCEEDED: 2,
    JOB_SPEC_INVALID: 2,
    JOB_KIND_UNKNOWN: 2,
    JOB_NOT_FOUND: 3,
    JOB_FINISHED: 6,
    JOB_NOT_RESUMABLE: 6,
    JOB_NOT_IMPLEMENTED: 6,
    EXTERNAL_COMMAND_NOT_FOUND: 3,
    EXTERNAL_COMMAND_FAILED: 10,
    JOB_CANCEL_TIMEOUT: 6,
    JOB_RUNNING: 7,
    PLUGIN_MANIFEST_INVALID: 2,
    PLUGIN_FAILED: 1,
    PLUGIN_PROTOCOL: 1,
    PLUGIN_TIMEOUT: 1,
    PLUGIN_DENIED: 6,
    PLUGIN_NOT_FOUND: 3,
    PLUGIN_DISABLED: 6,
    BATCH_INVALID: 2,
    BATCH_CHANGED: 6,
  };
  // Same set of codes: a new code must be added here with its exit code.
  assert.deepEqual(Object.keys(ERROR_CODES).sort(), Object.keys(expected).sort());
  for (const [code, exit] of Object.entries(expected)) {
    assert.equal(ERROR_CODES[code as ErrorCode].exit, exit, code);
  }
});

Deno.test("LodeError: fields, a specific hint, the cause, and the toJSON shape", () => {
  const cause = new Error("inner");
  const e = new LodeError("DIGEST_MISMATCH", "sha256 differs", {
    details: { expected: "ab", actual: "cd" },
    hint: "check the pin",
    cause,
  });
  assert.ok(e instanceof Error);
  assert.equal(e.name, "LodeError");
  assert.equal(e.code, "DIGEST_MISMATCH");
  assert.equal(e.message, "sha256 differs");
  assert.equal(e.hint, "check the pin");
  assert.equal(e.cause, cause);
  assert.equal(e.exitCode, 4);
  assert.deepEqual(e.toJSON(), {
    code: "DIGEST_MISMATCH",
    message: "sha256 differs",
    hint: "check the pin",
    details: { expected: "ab", actual: "cd" },
  });
  assert.deepEqual(Object.keys(e.toJSON()), ["code", "message", "hint", "details"]);
  // JSON.stringify goes through toJSON: no stack, no cause on the wire.
  assert.deepEqual(JSON.parse(JSON.stringify(e)), e.toJSON());
});

Deno.test("LodeError: defaults are the catalogue hint, empty details and no cause", () => {
  const e = new LodeError("OFFLINE", "no network");
  assert.deepEqual(e.details, {});
  assert.equal(e.hint, ERROR_CODES.OFFLINE.hint);
  assert.equal(e.cause, undefined);
  assert.ok(!("cause" in e));
  assert.deepEqual(e.toJSON(), {
    code: "OFFLINE",
    message: "no network",
    hint: ERROR_CODES.OFFLINE.hint,
    details: {},
  });
});

Deno.test("isLodeError with and without a code", () => {
  const e = new LodeError("LOCK_CONTENDED", "busy");
  assert.equal(isLodeError(e), true);
  assert.equal(isLodeError(e, "LOCK_CONTENDED"), true);
  assert.equal(isLodeError(e, "USAGE"), false);
  assert.equal(isLodeError(new Error("x")), false);
  assert.equal(isLodeError({ code: "USAGE" }), false);
  assert.equal(isLodeError(undefined), false);
});

Deno.test("toLodeError: LodeErrors pass through; others get a code", () => {
  const e = new LodeError("USAGE", "bad");
  assert.equal(toLodeError(e, "IO"), e);

  const notFound = new Deno.errors.NotFound("no such file");
  assert.equal(toLodeError(notFound).code, "IO");
  assert.equal(toLodeError(notFound).cause, notFound);
  assert.equal(toLodeError(new Deno.errors.PermissionDenied("denied")).code, "IO");

  const full = toLodeError(new Error("ENOSPC: No space left on device, write"));
  assert.equal(full.code, "INSUFFICIENT_SPACE");
  assert.equal(full.exitCode, 8);

  assert.equal(toLodeError(new Error("boom")).code, "INTERNAL");
  assert.equal(toLodeError(new Error("boom")).message, "boom");
  assert.equal(toLodeError(new Error("boom"), "NETWORK").code, "NETWORK");
  assert.equal(toLodeError("a string").message, "a string");
  assert.equal(toLodeError(42, "IO").code, "IO");
});

Deno.test("toLodeError: a real ENOENT from Deno is IO", async () => {
  const err = await Deno.readTextFile("/definitely/not/here/lode").then(() => null, (e) => e);
  const wrapped = toLodeError(err);
  assert.equal(wrapped.code, "IO");
  assert.match(wrapped.message, /No such file|not found/i);
});

Deno.test("docs/exit-codes.md's table lists every code of the catalogue in its exit's row", async () => {
  const page = await Deno.readTextFile(new URL("../docs/exit-codes.md", import.meta.url));
  const table = page.split("\n").filter((line) => line.startsWith("|"));
  assert.ok(table.length > 10, "docs/exit-codes.md has no exit-code table");
  for (const [code, { exit }] of Object.entries(ERROR_CODES)) {
    const row = table.find((line) => line.includes(`\`${code}\``));
    assert.ok(row, `${code} is missing from the exit-code table of docs/exit-codes.md`);
    assert.match(row, new RegExp(`^\\| ${exit} +\\|`), `${code} is in the wrong row: ${row}`);
  }
});

Deno.test("asDaemonError: a hint about a setting names the daemon's; a specific hint or another code stays", () => {
  const tls = new LodeError("TLS", "TLS to origin.test failed: UnknownIssuer", {
    details: { url: "https://o/" },
  });
  assert.match(tls.hint, /Pass --ca-cert/);
  const served = asDaemonError(tls);
  assert.deepEqual([served.code, served.message, served.details], [tls.code, tls.message, tls.details]);
  assert.match(served.hint, /`lode serve` with --ca-cert FILE/);
  assert.match(served.hint, /DENO_CERT/);
  assert.doesNotMatch(served.hint, /^Pass/);
  assert.match(
    asDaemonError(new LodeError("INSUFFICIENT_SPACE", "full")).hint,
    /LODE_MIN_FREE_BYTES.*lode serve/,
  );
  assert.match(
    asDaemonError(new LodeError("INSUFFICIENT_MEMORY", "big")).hint,
    /lode serve` with --no-memory-check/,
  );
  for (
    const code of [
      "HOST_NOT_ALLOWED",
      "INSECURE_URL",
      "OFFLINE",
      "NETWORK",
      "STALLED",
      "ACCESS_DENIED",
    ] as const
  ) {
    const hint = asDaemonError(new LodeError(code, "m")).hint;
    assert.notEqual(hint, ERROR_CODES[code].hint, code);
    assert.match(hint, /lode serve/, code);
  }
  const own = new LodeError("TLS", "m", { hint: "a hint of its own" });
  assert.equal(asDaemonError(own), own);
  const usage = new LodeError("USAGE", "m");
  assert.equal(asDaemonError(usage), usage);
});

Deno.test("INSUFFICIENT_SPACE's hint names the free-space cushion, LODE_MIN_FREE_BYTES", () => {
  assert.match(ERROR_CODES.INSUFFICIENT_SPACE.hint, /LODE_MIN_FREE_BYTES/);
  assert.match(new LodeError("INSUFFICIENT_SPACE", "full").hint, /min_free_bytes/);
});

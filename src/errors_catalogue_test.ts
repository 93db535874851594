import assert from "node:assert/strict";
import { ERROR_CODES, type ErrorCode, EXIT } from "./errors_catalogue.ts";
import { LodeError } from "./errors.ts";

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
    BATCH_CONTEXT_UNAVAILABLE: 6,
  };
  // Same set of codes: a new code must be added here with its exit code.
  assert.deepEqual(Object.keys(ERROR_CODES).sort(), Object.keys(expected).sort());
  for (const [code, exit] of Object.entries(expected)) {
    assert.equal(ERROR_CODES[code as ErrorCode].exit, exit, code);
  }
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

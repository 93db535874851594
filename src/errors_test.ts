import assert from "node:assert/strict";
import { asDaemonError, ERROR_CODES, isLodeError, LodeError, toLodeError, writeError } from "./errors.ts";

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

Deno.test("writeError: a full disk names the file and gives the caller's hint; anything else as toLodeError", () => {
  const full = writeError(
    new Error("No space left on device (os error 28)"),
    "/mnt/usb/m.lode",
    "Free space there.",
  );
  assert.equal(full.code, "INSUFFICIENT_SPACE");
  assert.equal(full.exitCode, 8);
  assert.equal(full.message, "cannot write /mnt/usb/m.lode: its disk is full");
  assert.equal(full.hint, "Free space there.");
  assert.deepEqual(full.details, { path: "/mnt/usb/m.lode" });

  const own = new LodeError("INSUFFICIENT_SPACE", "not enough disk space for m.lode");
  assert.equal(writeError(own, "m.lode", "other"), own);
  assert.equal(writeError(new Deno.errors.PermissionDenied("denied"), "m.lode", "h").code, "IO");
  assert.equal(writeError(new Error("boom"), "m.lode", "h").code, "IO");
});

Deno.test("toLodeError: a real ENOENT from Deno is IO", async () => {
  const err = await Deno.readTextFile("/definitely/not/here/lode").then(() => null, (e) => e);
  const wrapped = toLodeError(err);
  assert.equal(wrapped.code, "IO");
  assert.match(wrapped.message, /No such file|not found/i);
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

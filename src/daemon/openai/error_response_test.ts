import assert from "node:assert/strict";
import { LodeError } from "../../errors.ts";
import { errorBody, errorResponse, HttpRefusal, httpStatus } from "./error_response.ts";

Deno.test("errors: status per code, OpenAI shape with lode's code and the field as param", async () => {
  const statuses = [
    "BAD_REQUEST",
    "BAD_JSON",
    "SCHEMA_INVALID",
    "MODEL_NOT_FOUND",
    "UNKNOWN_OP",
    "FRAME_TOO_LARGE",
    "SCHEMA_MISMATCH",
  ]
    .map(httpStatus);
  assert.deepEqual(statuses, [400, 400, 400, 404, 404, 413, 422]);
  assert.deepEqual(["QUEUE_FULL", "DRAINING", "INTERNAL", "RUNNER_CRASHED", "FUTURE"].map(httpStatus), [
    429,
    503,
    500,
    500,
    500,
  ]);
  const { status, body } = errorBody(
    new LodeError("BAD_REQUEST", "bad", { details: { field: "messages" } }),
  );
  assert.equal(status, 400);
  assert.equal(body.error.code, "BAD_REQUEST");
  assert.equal(body.error.type, "invalid_request_error");
  assert.equal(body.error.param, "messages");
  assert.equal(body.error.message, "bad");
  assert.equal(errorBody(new Error("boom")).body.error.code, "INTERNAL");
  assert.equal(errorBody(new Error("boom")).body.error.type, "server_error");
  // A remedy that is a setting names the daemon's (`lode serve …`, its environment).
  const space = errorBody(new LodeError("INSUFFICIENT_SPACE", "not enough disk space")).body.error;
  assert.match(String(space.hint), /LODE_MIN_FREE_BYTES .*where `lode serve` starts/);

  const full = errorResponse(new LodeError("QUEUE_FULL", "full"));
  assert.equal(full.status, 429);
  assert.equal(full.headers.get("retry-after"), "1");
  assert.equal(full.headers.get("content-type"), "application/json");
  const draining = errorResponse(new LodeError("DRAINING", "bye"));
  assert.equal(draining.headers.get("x-should-retry"), "false");
  const key = errorResponse(new HttpRefusal(401, "ACCESS_DENIED", "key"));
  assert.equal(key.status, 401);
  assert.equal((await key.json()).error.type, "authentication_error");
});

import assert from "node:assert/strict";
import { errorFromBody } from "./openai_client.ts";
import { parseRemoteModel } from "./remote_model.ts";

Deno.test("parseRemoteModel: the fields, the base URL from the environment, and what is wrong", () => {
  assert.deepEqual(
    parseRemoteModel('{"model":"m","base_url":"http://h:8080/v1/"}', "m.remote.json", undefined),
    {
      baseUrl: "http://h:8080/v1",
      model: "m",
      contextSize: 0,
      hasChatTemplate: false,
    },
  );
  assert.equal(
    parseRemoteModel('{"model":"m"}', "m.remote.json", "https://gpu/v1").baseUrl,
    "https://gpu/v1",
  );
  assert.throws(() => parseRemoteModel('{"model":"m"}', "m.remote.json", undefined), /base_url/);
  assert.throws(() => parseRemoteModel("{", "m.remote.json", undefined), /not JSON/);
  assert.throws(() => parseRemoteModel('{"base_url":"http://h/v1"}', "m.remote.json", undefined), /"model"/);
  assert.throws(
    () => parseRemoteModel('{"model":"m","base_url":"http://h/v1","context_size":-1}', "x", undefined),
    /context_size/,
  );
});

Deno.test("errorFromBody: lode's codes kept, OpenAI's context and model codes mapped, anything else INFERENCE_FAILED", () => {
  const lode = errorFromBody(400, {
    error: { code: "SCHEMA_INVALID", message: "no", details: { field: "x" } },
  });
  assert.deepEqual([lode.code, lode.details], ["SCHEMA_INVALID", { field: "x", http_status: 400 }]);
  assert.equal(
    errorFromBody(400, { error: { code: "context_length_exceeded", message: "long" } }).code,
    "CONTEXT_LENGTH_EXCEEDED",
  );
  assert.equal(
    errorFromBody(404, { error: { code: "model_not_found", message: "The model 'x' does not exist" } }).code,
    "MODEL_NOT_FOUND",
  );
  const other = errorFromBody(503, null);
  assert.deepEqual([other.code, other.message], ["INFERENCE_FAILED", "the server answered HTTP 503"]);
});

import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { checkClient, pathSegments, readJsonBody } from "./http_intake.ts";
import { HttpRefusal } from "./error_response.ts";

const req = (headers: Record<string, string> = {}, url = "http://127.0.0.1:8080/v1/models") =>
  new Request(url, { headers });

Deno.test("checkClient: loopback Host and Origin pass, others are ACCESS_DENIED unless allowRemote", () => {
  const local = { allowRemote: false };
  checkClient(req({ host: "127.0.0.1:8080" }), local);
  checkClient(req({ host: "localhost:8080", origin: "http://localhost:3000" }), local);
  checkClient(req({ host: "[::1]:8080" }), local);
  const refused: Record<string, string>[] = [
    { host: "evil.example:8080" },
    { host: "127.0.0.1:8080", origin: "https://evil.example" },
    { host: "127.0.0.1:8080", origin: "null" },
  ];
  for (const headers of refused) {
    assert.throws(
      () => checkClient(req(headers), local),
      (e) => isLodeError(e, "ACCESS_DENIED"),
      JSON.stringify(headers),
    );
    checkClient(req(headers), { allowRemote: true });
  }
});

Deno.test("checkClient: with an API key, a Bearer token is needed (401)", () => {
  const check = { allowRemote: false, apiKey: "s3cret" };
  checkClient(req({ authorization: "Bearer s3cret" }), check);
  for (const authorization of [undefined, "Bearer s3cre", "Bearer s3cret2", "s3cret"]) {
    assert.throws(
      () => checkClient(req(authorization ? { authorization } : {}), check),
      (e) => e instanceof HttpRefusal && e.status === 401 && e.code === "ACCESS_DENIED",
      authorization,
    );
  }
});

Deno.test("readJsonBody: JSON, BAD_JSON, FRAME_TOO_LARGE past the limit", async () => {
  const post = (body: BodyInit) => new Request("http://127.0.0.1/", { method: "POST", body });
  assert.deepEqual(await readJsonBody(post('{"a":[1,2]}'), 100), { a: [1, 2] });
  await assert.rejects(readJsonBody(post("{nope"), 100), (e) => isLodeError(e, "BAD_JSON"));
  await assert.rejects(
    readJsonBody(post(new Uint8Array([0xff, 0x7b])), 100),
    (e) => isLodeError(e, "BAD_JSON"),
  );
  await assert.rejects(readJsonBody(post("x".repeat(101)), 100), (e) => isLodeError(e, "FRAME_TOO_LARGE"));
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(64).fill(0x20));
    },
  });
  await assert.rejects(readJsonBody(post(stream), 1000), (e) => isLodeError(e, "FRAME_TOO_LARGE"));
});

Deno.test("pathSegments: decoded segments after the prefix; one that does not decode is kept as sent", () => {
  assert.deepEqual(pathSegments("/v1/files/file-1/content", "/v1/files"), ["file-1", "content"]);
  assert.deepEqual(pathSegments("/v1/batches", "/v1/batches"), []);
  assert.deepEqual(pathSegments("/v1/files/a%20b/%E0", "/v1/files"), ["a b", "%E0"]);
});

import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { fileSources, movesToNextMirror, publicUrl } from "./mirrors.ts";

Deno.test("fileSources: url first, then each mirror once; credentials only on url's origin", () => {
  const headers = { authorization: "Bearer hf_x" };
  const sources = fileSources({
    url: "https://huggingface.co/o/r/resolve/abc/m.gguf",
    mirrors: [
      "https://huggingface.co/o/r/resolve/def/m.gguf",
      "https://mirror.example/m.gguf",
      "https://huggingface.co.evil.example/m.gguf",
      "http://huggingface.co/o/r/resolve/abc/m.gguf",
      "https://mirror.example/m.gguf",
    ],
    headers,
  });
  assert.deepEqual(sources.map((s) => [s.url, s.headers]), [
    ["https://huggingface.co/o/r/resolve/abc/m.gguf", headers],
    ["https://huggingface.co/o/r/resolve/def/m.gguf", headers],
    ["https://mirror.example/m.gguf", undefined],
    ["https://huggingface.co.evil.example/m.gguf", undefined],
    ["http://huggingface.co/o/r/resolve/abc/m.gguf", undefined],
  ]);
});

Deno.test("fileSources: credentials by host go to the https URLs on that host, mirrors too", () => {
  const token = { authorization: "Bearer m" };
  const sources = fileSources({
    url: "https://a.mirror.test/m.gguf",
    mirrors: [
      "https://b.mirror.test:8443/m.gguf",
      "http://b.mirror.test:8443/m.gguf",
      "https://c.test/m.gguf",
    ],
    headers: { "x-origin": "a" },
    hostHeaders: { "b.mirror.test:8443": token },
  });
  assert.deepEqual(sources.map((s) => [s.url, s.headers]), [
    ["https://a.mirror.test/m.gguf", { "x-origin": "a" }],
    ["https://b.mirror.test:8443/m.gguf", token],
    ["http://b.mirror.test:8443/m.gguf", undefined],
    ["https://c.test/m.gguf", undefined],
  ]);
});

Deno.test("fileSources: a file without mirrors is its url alone", () => {
  assert.deepEqual(fileSources({ url: "https://h.example/m.gguf" }), [
    { url: "https://h.example/m.gguf", headers: undefined },
  ]);
});

Deno.test("movesToNextMirror: the origin's failures move on; local and final ones do not", () => {
  const moves = [
    "NETWORK",
    "STALLED",
    "TLS",
    "HTTP_NOT_FOUND",
    "HTTP_STATUS",
    "ACCESS_DENIED",
    "SIZE_MISMATCH",
    "ORIGIN_CHANGED",
    "DIGEST_MISMATCH",
    "HOST_NOT_ALLOWED",
    "INSECURE_URL",
  ] as const;
  for (const code of moves) assert.ok(movesToNextMirror(new LodeError(code, "x")), code);
  const stays = ["INTERRUPTED", "OFFLINE", "INSUFFICIENT_SPACE", "IO", "LOCK_CONTENDED", "INTERNAL"] as const;
  for (const code of stays) assert.ok(!movesToNextMirror(new LodeError(code, "x")), code);
});

Deno.test("publicUrl: no credentials, query or fragment", () => {
  assert.equal(
    publicUrl("https://user:pw@cdn.example:8443/a/m.gguf?X-Amz-Signature=s&token=t#frag"),
    "https://cdn.example:8443/a/m.gguf",
  );
  assert.equal(publicUrl("not a url"), "(not a URL)");
});

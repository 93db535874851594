import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { MODEL, withFront } from "../../../tests/support/openai_front.ts";
import { allowedOrigins, parseOrigins } from "./cors.ts";

const APP = "https://app.example.com";

Deno.test("allowedOrigins: loopback origins on any port, named ones, nothing else", () => {
  const allowed = allowedOrigins(parseOrigins([APP + "/", "http://LAN.test:8080"], "--allow-origin"));
  for (
    const o of [
      "http://localhost:5173",
      "http://127.0.0.1:3000",
      "http://[::1]:8080",
      "https://localhost",
      APP,
    ]
  ) {
    assert.ok(allowed(o), o);
  }
  assert.ok(allowed("http://lan.test:8080"));
  for (
    const o of ["https://evil.example", "http://lan.test:8081", "http://app.example.com", "null", "file://"]
  ) {
    assert.ok(!allowed(o), o);
  }
  for (
    const bad of ["app.example.com", "https://app.example.com/page", "ftp://x.test", "https://u:p@x.test"]
  ) {
    assert.throws(
      () => parseOrigins([bad], "--allow-origin"),
      (e) => isLodeError(e, "USAGE") && e.message.includes("--allow-origin") && /https:\/\/app/.test(e.hint),
      bad,
    );
  }
});

/** `fetch` with an `Origin` header, as a browser sends it. */
function from(origin: string, url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { origin, ...init.headers as Record<string, string> } });
}

Deno.test("preflight from an allowed origin: 204, the origin echoed, the requested headers it reads", async () => {
  await withFront({ allowOrigins: [APP], apiKey: "k" }, async ({ http }) => {
    for (const origin of ["http://localhost:5173", APP]) {
      const r = await from(origin, `${http.url}/chat/completions`, {
        method: "OPTIONS",
        headers: {
          "access-control-request-method": "POST",
          "access-control-request-headers":
            "authorization, content-type, openai-beta, x-stainless-os, x-stainless-retry-count, x-evil",
        },
      });
      await r.body?.cancel();
      assert.equal(r.status, 204, origin);
      assert.equal(r.headers.get("access-control-allow-origin"), origin);
      assert.match(String(r.headers.get("access-control-allow-methods")), /POST/);
      assert.equal(
        r.headers.get("access-control-allow-headers"),
        "authorization, content-type, openai-beta, x-stainless-os, x-stainless-retry-count",
      );
      assert.match(String(r.headers.get("vary")), /Origin/);
      assert.ok(Number(r.headers.get("access-control-max-age")) > 0);
    }
  });
});

Deno.test("answers to an allowed origin carry CORS headers and expose x-request-id; JSON, stream and error", async () => {
  await withFront({}, async ({ http }) => {
    const origin = "http://127.0.0.1:5173";
    const post = (path: string, body: unknown) =>
      from(origin, `${http.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const answers = [
      await from(origin, `${http.url}/models`),
      await post("/chat/completions", {
        model: MODEL,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      }),
      await post("/responses", { model: MODEL, input: "hi", max_output_tokens: 2, stream: true }),
      await post("/completions", { model: "nope", prompt: "x" }),
    ];
    for (const r of answers) {
      await r.body?.cancel();
      assert.equal(r.headers.get("access-control-allow-origin"), origin, r.url);
      assert.match(String(r.headers.get("access-control-expose-headers")), /x-request-id/);
      assert.match(String(r.headers.get("x-request-id")), /^req_/);
      assert.match(String(r.headers.get("vary")), /Origin/);
    }
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 404]);
  });
});

Deno.test("another origin: its preflight and its requests are refused with 403 and no CORS headers", async () => {
  await withFront({ allowOrigins: [APP] }, async ({ http }) => {
    const evil = "https://evil.example";
    const preflight = await from(evil, `${http.url}/chat/completions`, {
      method: "OPTIONS",
      headers: { "access-control-request-method": "POST" },
    });
    const post = await from(evil, `${http.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
    });
    const get = await from(evil, `${http.url}/models`);
    for (const r of [preflight, post, get]) {
      const { error } = await r.json();
      assert.equal(r.status, 403);
      assert.equal(error.code, "ACCESS_DENIED");
      assert.match(error.hint, /--allow-origin/);
      assert.equal(r.headers.get("access-control-allow-origin"), null);
    }
    const plain = await fetch(`${http.url}/models`, { method: "OPTIONS" });
    await plain.body?.cancel();
    assert.equal(plain.status, 204, "OPTIONS without Origin: not a preflight");
    assert.match(String(plain.headers.get("allow")), /POST/);
  });
});

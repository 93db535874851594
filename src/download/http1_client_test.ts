/**
 * Http1Client against the real test origin (HTTPS, raw sockets) and Deno.serve (plain http, chunked
 * bodies): framing, keep-alive reuse, stale pooled connections, aborts, and fetch-like errors.
 */
import assert from "node:assert/strict";
import { type Origin, startOrigin } from "../../tests/support/origin.ts";
import type { Route } from "../../tests/support/origin_routes.ts";
import { makeTestCa, type TestCa } from "../../tests/support/test_ca.ts";
import { Http1Client } from "./http1_client.ts";
import { transportError } from "./http_get.ts";

const BODY = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);

async function withOrigin(
  routes: Record<string, Route>,
  body: (o: Origin, client: Http1Client, ca: TestCa) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const ca = await makeTestCa(dir);
  const origin = await startOrigin({ tls: ca, routes });
  const client = new Http1Client({ caCerts: [ca.caCertPem] });
  try {
    await body(origin, client, ca);
  } finally {
    client.close();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function readByob(response: Response, bufferBytes = 64 * 1024): Promise<Uint8Array> {
  const reader = response.body!.getReader({ mode: "byob" });
  const parts: Uint8Array[] = [];
  let buffer = new Uint8Array(bufferBytes);
  while (true) {
    const { done, value } = await reader.read(buffer);
    if (done) break;
    parts.push(value.slice());
    buffer = new Uint8Array(value.buffer);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

Deno.test("Http1Client: Content-Length bodies over TLS, read with BYOB or plainly; the connection is reused", async () => {
  await withOrigin({ "/f": { body: BODY } }, async (origin, client) => {
    const first = await client.request(new URL(`${origin.url}/f`));
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("content-length"), String(BODY.length));
    assert.deepEqual(await readByob(first, 1 << 20), BODY);
    const second = await client.request(new URL(`${origin.url}/f`), { headers: { range: "bytes=10-19" } });
    assert.equal(second.status, 206);
    assert.deepEqual(new Uint8Array(await second.arrayBuffer()), BODY.slice(10, 20));
    assert.equal(origin.connections, 1, "one TLS connection for both requests");
    assert.equal(origin.requests[1]!.headers["accept-encoding"], "identity");
  });
});

Deno.test("Http1Client: a cancelled short rest is read off and the connection kept; a long one is closed", async () => {
  await withOrigin(
    { "/f": { body: BODY }, "/403": { status: 403, body: "token expired" } },
    async (origin, client) => {
      await (await client.request(new URL(`${origin.url}/403`))).body!.cancel();
      await (await client.request(new URL(`${origin.url}/f`), { headers: { range: "bytes=0-0" } })).body!
        .cancel();
      assert.equal(origin.connections, 1);
      await (await client.request(new URL(`${origin.url}/f`))).body!.cancel(); // 300 kB left: closed
      await (await client.request(new URL(`${origin.url}/403`))).body!.cancel();
      assert.equal(origin.connections, 2);
    },
  );
});

Deno.test("Http1Client: a pooled connection the server closed is replaced transparently", async () => {
  const closing: Route = {
    handler: () => ({ raw: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", close: true }),
  };
  await withOrigin({ "/c": closing }, async (origin, client) => {
    for (let i = 0; i < 3; i++) {
      assert.equal(await (await client.request(new URL(`${origin.url}/c`))).text(), "ok");
      await new Promise((r) => setTimeout(r, 20)); // the server's close arrives
    }
    assert.equal(origin.connections, 3);
  });
});

Deno.test("Http1Client: a body ended by the connection closing, and a short Content-Length body", async () => {
  const routes: Record<string, Route> = {
    "/eof": { handler: () => ({ raw: "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end" }) },
    "/short": { body: BODY, fault: { kind: "short", bytes: 1000 } },
  };
  await withOrigin(routes, async (origin, client) => {
    assert.equal(await (await client.request(new URL(`${origin.url}/eof`))).text(), "until the end");
    const short = await client.request(new URL(`${origin.url}/short`));
    const error = await readByob(short).then(() => null, (e) => e);
    assert.ok(error instanceof TypeError, String(error));
    assert.match(error.message, /bytes of the body still to come/);
    assert.equal(transportError(error, new URL(origin.url)).code, "NETWORK");
  });
});

Deno.test("Http1Client: malformed answers and an untrusted certificate are TypeErrors, mapped like fetch's", async () => {
  const routes: Record<string, Route> = {
    "/garbage": { handler: () => ({ raw: "SMTP ready\r\n\r\n" }) },
    "/huge": { handler: () => ({ raw: `HTTP/1.1 200 OK\r\nx: ${"a".repeat(70_000)}\r\n\r\n` }) },
  };
  await withOrigin(routes, async (origin, client) => {
    for (const path of ["/garbage", "/huge"]) {
      const e = await client.request(new URL(`${origin.url}${path}`)).then(() => null, (e) => e);
      assert.ok(e instanceof TypeError, `${path}: ${e}`);
    }
    const stranger = new Http1Client();
    try {
      const e = await stranger.request(new URL(`${origin.url}/garbage`)).then(() => null, (e) => e);
      assert.ok(e instanceof TypeError);
      assert.equal(transportError(e, new URL(origin.url)).code, "TLS");
    } finally {
      stranger.close();
    }
  });
});

Deno.test("Http1Client: aborting mid-body rejects the read with the signal's reason", async () => {
  await withOrigin(
    { "/slow": { body: BODY, fault: { kind: "stall", afterBytes: 1000, ms: 5000 } } },
    async (o, c) => {
      const abort = new AbortController();
      const response = await c.request(new URL(`${o.url}/slow`), { signal: abort.signal });
      setTimeout(() => abort.abort(new DOMException("stop", "AbortError")), 50);
      const e = await readByob(response).then(() => null, (e) => e);
      assert.ok(e instanceof DOMException && e.message === "stop", String(e));
    },
  );
});

Deno.test("Http1Client: chunked bodies (plain http from Deno.serve) and bodiless statuses", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname === "/none") return new Response(null, { status: 204 });
    const chunks = ["alpha,", "beta,", "x".repeat(100_000)];
    return new Response(
      new ReadableStream({
        pull(c) {
          const next = chunks.shift();
          if (next === undefined) c.close();
          else c.enqueue(new TextEncoder().encode(next));
        },
      }),
    );
  });
  const client = new Http1Client();
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const chunked = await client.request(new URL(`${base}/stream`));
    assert.equal(chunked.headers.get("transfer-encoding"), "chunked");
    assert.equal(
      new TextDecoder().decode(await readByob(chunked, 4096)),
      `alpha,beta,${"x".repeat(100_000)}`,
    );
    const none = await client.request(new URL(`${base}/none`));
    assert.equal(none.status, 204);
    assert.equal(none.body, null);
    assert.equal(
      await (await client.request(new URL(`${base}/stream`))).text(),
      `alpha,beta,${"x".repeat(100_000)}`,
    );
  } finally {
    client.close();
    await server.shutdown();
  }
});

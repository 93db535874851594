import { deepStrictEqual as assertEquals, ok as assert, rejects as assertRejects } from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { type Origin, type Route, startOrigin } from "./origin.ts";
import { makeTestCa, makeUntrustedCa, type TestCa } from "./test_ca.ts";

/** Deterministic, non-repeating-ish test bytes. */
function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const DATA = bytes(3 * 1024 * 1024 + 123);

interface Fixture extends AsyncDisposable {
  ca: TestCa;
  origin: Origin;
  client: Deno.HttpClient;
  get(path: string, init?: RequestInit): Promise<Response>;
}

async function setup(routes: Record<string, Route>, opts: { tls?: boolean } = {}): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "lode-origin-test-" });
  const ca = await makeTestCa(dir);
  const origin = await startOrigin({ routes, tls: opts.tls === false ? undefined : ca });
  const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
  return {
    ca,
    origin,
    client,
    get: (path, init) => fetch(`${origin.url}${path}`, { client, ...init }),
    async [Symbol.asyncDispose]() {
      client.close();
      await origin.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Reads a body until it ends or throws; returns what arrived and the error, if any. */
async function drain(res: Response): Promise<{ got: Uint8Array; error?: unknown }> {
  const parts: Uint8Array[] = [];
  let error: unknown;
  try {
    for await (const c of res.body!) parts.push(c);
  } catch (e) {
    error = e;
  }
  const got = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) got.set(p, (off += p.length) - p.length);
  return { got, error };
}

Deno.test("makeTestCa makes EC P-256 keys (cheap to make) and a CA-signed leaf for the loopback hosts", async () => {
  const dir = await Deno.makeTempDir();
  const ca = await makeTestCa(dir);
  assert(ca.caCertPem.includes("BEGIN CERTIFICATE") && ca.certPem.includes("BEGIN CERTIFICATE"));
  assert(ca.keyPem.includes("PRIVATE KEY"));
  const leafKey = createPrivateKey(ca.keyPem);
  assertEquals([leafKey.asymmetricKeyType, leafKey.asymmetricKeyDetails?.namedCurve], ["ec", "prime256v1"]);
  const caKey = new X509Certificate(ca.caCertPem).publicKey;
  assertEquals([caKey.asymmetricKeyType, caKey.asymmetricKeyDetails?.namedCurve], ["ec", "prime256v1"]);
  assertEquals(await Deno.readTextFile(ca.caCertPath), ca.caCertPem);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("full GET matches the bytes, with validators; keep-alive reuses one connection", async () => {
  await using f = await setup({ "/m.gguf": { body: DATA } });
  const res = await f.get("/m.gguf");
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-length"), String(DATA.length));
  assertEquals(res.headers.get("accept-ranges"), "bytes");
  assert(res.headers.get("etag")?.startsWith('"'));
  assert(res.headers.get("last-modified")?.endsWith("GMT"));
  assertEquals(new Uint8Array(await res.arrayBuffer()), DATA);
  const again = await f.get("/m.gguf");
  assertEquals((await again.arrayBuffer()).byteLength, DATA.length);
  assertEquals(f.origin.connections, 1);
  assertEquals(f.origin.requests.map((r) => [r.method, r.path, r.connection]), [
    ["GET", "/m.gguf", 1],
    ["GET", "/m.gguf", 1],
  ]);
  assertEquals(f.origin.requests[0]?.headers["host"], `127.0.0.1:${f.origin.port}`);
});

Deno.test("ranges: a-b, a-, -n, 416, If-Range by ETag and by date", async () => {
  await using f = await setup({ "/m": { body: DATA } });
  const size = DATA.length;
  for (
    const [range, start, end] of [["bytes=10-19", 10, 19], [`bytes=${size - 5}-`, size - 5, size - 1], [
      "bytes=-7",
      size - 7,
      size - 1,
    ]] as const
  ) {
    const res = await f.get("/m", { headers: { range } });
    assertEquals(res.status, 206, range);
    assertEquals(res.headers.get("content-range"), `bytes ${start}-${end}/${size}`);
    assertEquals(new Uint8Array(await res.arrayBuffer()), DATA.slice(start, end + 1));
  }
  const bad = await f.get("/m", { headers: { range: `bytes=${size}-` } });
  assertEquals(bad.status, 416);
  assertEquals(bad.headers.get("content-range"), `bytes */${size}`);
  await bad.body?.cancel();

  const first = await f.get("/m", { method: "HEAD" });
  const etag = first.headers.get("etag")!;
  const date = first.headers.get("last-modified")!;
  for (const ifRange of [etag, date]) {
    const res = await f.get("/m", { headers: { range: "bytes=1-2", "if-range": ifRange } });
    assertEquals([res.status, [...new Uint8Array(await res.arrayBuffer())]], [206, [DATA[1], DATA[2]]]);
  }
  const stale = await f.get("/m", { headers: { range: "bytes=1-2", "if-range": '"other"' } });
  assertEquals(stale.status, 200);
  assertEquals((await stale.arrayBuffer()).byteLength, size);
});

Deno.test("HEAD gives the headers and no body; unknown paths are 404", async () => {
  await using f = await setup({ "/m": { body: DATA } });
  const head = await f.get("/m", { method: "HEAD" });
  assertEquals(head.status, 200);
  assertEquals(head.headers.get("content-length"), String(DATA.length));
  assertEquals((await head.arrayBuffer()).byteLength, 0);
  const missing = await f.get("/nope");
  assertEquals([missing.status, await missing.text()], [404, "not found"]);
  const followUp = await f.get("/m", { headers: { range: "bytes=0-0" } });
  assertEquals([...new Uint8Array(await followUp.arrayBuffer())], [DATA[0]]);
  assertEquals(f.origin.connections, 1);
});

Deno.test("status routes carry body and headers (404, 429/503 with Retry-After)", async () => {
  await using f = await setup({
    "/gone": { status: 404 },
    "/busy": { status: 503, body: "later", headers: { "Retry-After": "2" } },
    "/slow-down": { status: 429, headers: { "retry-after": "1" } },
  });
  const gone = await f.get("/gone");
  assertEquals([gone.status, await gone.text()], [404, ""]);
  const busy = await f.get("/busy");
  assertEquals([busy.status, busy.headers.get("retry-after"), await busy.text()], [503, "2", "later"]);
  const slow = await f.get("/slow-down");
  assertEquals([slow.status, slow.headers.get("retry-after")], [429, "1"]);
  await slow.body?.cancel();
});

Deno.test("redirect to a second host on 127.0.0.2: Location visible with manual, followed otherwise", async () => {
  await using f = await setup({});
  const other = await startOrigin({ hostname: "127.0.0.2", tls: f.ca, routes: { "/x": { body: DATA } } });
  try {
    assertEquals(other.url, `https://127.0.0.2:${other.port}`);
    f.origin.routes["/r"] = { redirect: `${other.url}/x` };
    f.origin.routes["/r307"] = { redirect: `${other.url}/x`, status: 307 };
    const manual = await f.get("/r", { redirect: "manual" });
    assertEquals([manual.status, manual.headers.get("location")], [302, `${other.url}/x`]);
    await manual.body?.cancel();
    const r307 = await f.get("/r307", { redirect: "manual" });
    assertEquals(r307.status, 307);
    await r307.body?.cancel();
    const followed = await f.get("/r");
    assertEquals([followed.url, (await followed.arrayBuffer()).byteLength], [`${other.url}/x`, DATA.length]);
    assertEquals(other.requests.length, 1);
  } finally {
    await other.close();
  }
});

Deno.test("a server whose CA the client does not trust is refused", async () => {
  await using f = await setup({ "/m": { body: DATA } });
  const rogueCa = await makeUntrustedCa(`${f.ca.dir}/rogue`);
  const rogue = await startOrigin({ tls: rogueCa, routes: { "/m": { body: DATA } } });
  try {
    await assertRejects(fetch(`${rogue.url}/m`, { client: f.client }));
  } finally {
    await rogue.close();
  }
});

Deno.test("plain http mode", async () => {
  await using f = await setup({ "/m": { body: DATA } }, { tls: false });
  assertEquals(f.origin.url, `http://127.0.0.1:${f.origin.port}`);
  const res = await f.get("/m", { headers: { range: "bytes=5-9" } });
  assertEquals([res.status, new Uint8Array(await res.arrayBuffer())], [206, DATA.slice(5, 10)]);
});

Deno.test("fault short: full Content-Length announced, N bytes sent, body read throws", async () => {
  await using f = await setup({ "/m": { body: DATA, fault: { kind: "short", bytes: 1000 } } });
  const res = await f.get("/m");
  assertEquals([res.status, res.headers.get("content-length")], [200, String(DATA.length)]);
  const { got, error } = await drain(res);
  assert(error instanceof Error);
  assertEquals(got, DATA.slice(0, 1000));
});

Deno.test("fault reset: N bytes then the connection is dropped", async () => {
  await using f = await setup({ "/m": { body: DATA, fault: { kind: "reset", afterBytes: 70_000 } } });
  const { got, error } = await drain(await f.get("/m"));
  assert(error instanceof Error);
  assertEquals(got, DATA.slice(0, 70_000));
});

Deno.test("fault corrupt: exactly one byte flipped, also inside a range; route bytes untouched", async () => {
  const copy = DATA.slice();
  await using f = await setup({ "/m": { body: copy, fault: { kind: "corrupt", offset: 2_000_000 } } });
  const got = new Uint8Array(await (await f.get("/m")).arrayBuffer());
  const diffs: number[] = [];
  for (let i = 0; i < got.length; i++) if (got[i] !== DATA[i]) diffs.push(i);
  assertEquals(diffs, [2_000_000]);
  assertEquals(got[2_000_000], DATA[2_000_000]! ^ 0xff);
  const part = new Uint8Array(
    await (await f.get("/m", { headers: { range: "bytes=1999999-2000000" } })).arrayBuffer(),
  );
  assertEquals([...part], [DATA[1_999_999], DATA[2_000_000]! ^ 0xff]);
  assertEquals(copy, DATA);
});

Deno.test("fault stall: N bytes, a pause of M ms, then the rest", async () => {
  await using f = await setup({ "/m": { body: DATA, fault: { kind: "stall", afterBytes: 4096, ms: 300 } } });
  const res = await f.get("/m");
  const reader = res.body!.getReader();
  let n = 0;
  let gapMax = 0;
  let last = performance.now();
  const t0 = last;
  while (true) {
    const { done, value } = await reader.read();
    const now = performance.now();
    if (n > 0) gapMax = Math.max(gapMax, now - last);
    last = now;
    if (done) break;
    n += value.length;
  }
  assertEquals(n, DATA.length);
  assert(gapMax >= 250, `largest gap ${gapMax} ms`);
  assert(last - t0 >= 280);
});

Deno.test("fault throttle: afterBytes at once, then chunkBytes every delayMs; a client that hangs up mid-body is recorded (peerClosed)", async () => {
  const SMALL = DATA.subarray(0, 64 * 1024);
  const fault = { kind: "throttle" as const, afterBytes: 32 * 1024, chunkBytes: 8 * 1024, delayMs: 50 };
  await using f = await setup({ "/m": { body: SMALL, fault }, "/n": { body: DATA, fault } });
  const t0 = performance.now();
  const whole = new Uint8Array(await (await f.get("/m")).arrayBuffer());
  const took = performance.now() - t0;
  assertEquals(whole, SMALL);
  // 32 KiB at once, then 4 chunks of 8 KiB, each after a 50 ms pause.
  assert(took >= 190, `took ${took} ms`);
  assertEquals(f.origin.requests[0]!.peerClosed, undefined);

  const res = await f.get("/n");
  const reader = res.body!.getReader();
  let got = 0;
  while (got < 48 * 1024) got += (await reader.read()).value!.length;
  await reader.cancel();
  const n = f.origin.requests[1]!;
  const deadline = Date.now() + 30_000;
  while (n.peerClosed !== true && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assertEquals(n.peerClosed, true);
  assert(n.sentBytes < DATA.length, `${n.sentBytes} sent`);
});

Deno.test("fault ignore_range: always 200 with the full body", async () => {
  await using f = await setup({ "/m": { body: DATA, fault: { kind: "ignore_range" } } });
  const res = await f.get("/m", { headers: { range: "bytes=100-199" } });
  assertEquals([res.status, res.headers.get("content-range")], [200, null]);
  assertEquals(new Uint8Array(await res.arrayBuffer()), DATA);
});

Deno.test("fault wrong_content_range: 206 for another range than asked (header and body agree)", async () => {
  await using f = await setup({ "/m": { body: DATA, fault: { kind: "wrong_content_range" } } });
  const res = await f.get("/m", { headers: { range: "bytes=1000-1099" } });
  assertEquals([res.status, res.headers.get("content-range")], [206, `bytes 0-99/${DATA.length}`]);
  assertEquals(new Uint8Array(await res.arrayBuffer()), DATA.slice(0, 100));
  const fromZero = await f.get("/m", { headers: { range: "bytes=0-9" } });
  assertEquals(fromZero.headers.get("content-range"), `bytes 1-10/${DATA.length}`);
  await fromZero.body?.cancel();
});

Deno.test("fault etag_change: a new ETag per request, so If-Range falls back to 200", async () => {
  await using f = await setup({ "/m": { body: DATA, fault: { kind: "etag_change" } } });
  const a = await f.get("/m", { method: "HEAD" });
  const b = await f.get("/m", { method: "HEAD" });
  assert(a.headers.get("etag") !== b.headers.get("etag"));
  const res = await f.get("/m", { headers: { range: "bytes=0-9", "if-range": b.headers.get("etag")! } });
  assertEquals(res.status, 200);
  assertEquals((await res.arrayBuffer()).byteLength, DATA.length);
});

Deno.test("faultTimes: only the first K GETs are faulted, HEADs do not count", async () => {
  await using f = await setup({ "/m": { body: DATA, fault: { kind: "short", bytes: 10 }, faultTimes: 2 } });
  await (await f.get("/m", { method: "HEAD" })).body?.cancel();
  for (let i = 0; i < 2; i++) assert((await drain(await f.get("/m"))).error instanceof Error, `request ${i}`);
  assertEquals(new Uint8Array(await (await f.get("/m")).arrayBuffer()), DATA);
  assertEquals(f.origin.requests.length, 4);
});

Deno.test("handler routes: computed answers and raw bytes", async () => {
  await using f = await setup({
    "/echo": { handler: (req) => ({ status: 200, body: `${req.method} ${req.path}` }) },
    "/raw": { handler: () => ({ raw: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi" }) },
    "/boom": {
      handler: () => {
        throw new Error("nope");
      },
    },
  });
  assertEquals(await (await f.get("/echo?q=1")).text(), "GET /echo?q=1");
  assertEquals(await (await f.get("/raw")).text(), "hi");
  const boom = await f.get("/boom");
  assertEquals(boom.status, 500);
  await boom.body?.cancel();
});

Deno.test("a 64 MiB file is streamed from disk with bounded server memory", async () => {
  await using f = await setup({});
  const path = `${f.ca.dir}/big.bin`;
  const size = 64 * 1024 * 1024;
  {
    using file = await Deno.open(path, { write: true, create: true });
    const block = bytes(1024 * 1024);
    for (let i = 0; i < 64; i++) await file.write(block);
  }
  // Serve from a child process so its memory is measured alone.
  const code = `import { startOrigin } from ${JSON.stringify(import.meta.resolve("./origin.ts"))};
    const o = await startOrigin({ tls: { certPem: Deno.env.get("CERT"), keyPem: Deno.env.get("KEY") },
      routes: { "/big": { file: Deno.env.get("FILE"), fault: { kind: "corrupt", offset: 40_000_000 } } } });
    console.log(o.url);
    for await (const _ of Deno.stdin.readable);
    await o.close();`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { CERT: f.ca.certPem, KEY: f.ca.keyPem, FILE: path },
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const url = (await lines.read()).value!.trim();
  const status = async (key: string) =>
    Number(/(\d+) kB/.exec((await Deno.readTextFile(`/proc/${child.pid}/status`)).split(key)[1]!)![1]) * 1024;
  const rssBefore = await status("VmRSS:");
  const res = await fetch(`${url}/big`, { client: f.client });
  assertEquals(res.headers.get("content-length"), String(size));
  let n = 0;
  let flipped = 0;
  for await (const c of res.body!) {
    if (n <= 40_000_000 && 40_000_000 < n + c.length) flipped = c[40_000_000 - n]!;
    n += c.length;
  }
  const peak = await status("VmHWM:");
  await child.stdin.close();
  await lines.cancel();
  assert((await child.status).success);
  assertEquals(n, size);
  assertEquals(flipped, bytes(1024 * 1024)[40_000_000 % (1024 * 1024)]! ^ 0xff);
  const grew = (peak - rssBefore) / 2 ** 20;
  console.log(`server RSS: ${(rssBefore / 2 ** 20).toFixed(1)} MiB idle, +${grew.toFixed(1)} MiB peak`);
  assert(grew < 24, `server RSS grew by ${grew.toFixed(1)} MiB while serving 64 MiB`);
});

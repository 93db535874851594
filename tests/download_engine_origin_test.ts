/**
 * Fault injection for the parallel download engine, part 2: the origin's side changes under the
 * engine — the file changes mid-download (ETag), redirect chains and loops, hosts off the allow-list,
 * origins that ignore ranges, expiring signed URLs, a size that differs from the promised one.
 * Resume: download_engine_resume_test.ts.
 */
import assert from "node:assert/strict";
import { downloadToPartial } from "../src/download/parallel_download.ts";
import { HostPolicy } from "../src/download/host_policy.ts";
import { listTree } from "./support/lode_cli.ts";
import type { BodyRoute, Route } from "./support/origin.ts";
import {
  engineTest,
  FIRST_PART,
  getsOf,
  lodeErrorOf,
  PART,
  plannedParts,
  randomModel,
  rangeOf,
  sha256,
  sleep,
  withEngine,
} from "./support/engine_world.ts";

const BODY = randomModel(FIRST_PART + 16 * PART + 1000);
const SHA = sha256(BODY);
const PARTS = plannedParts(BODY.length);

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

engineTest(
  "the file changing mid-download restarts once and ends with one version, never a mix",
  async () => {
    // Version A for the first 4 requests, then version B (another size, another ETag) for good.
    const B = randomModel(BODY.length + 4096);
    const vA: BodyRoute = { body: BODY, etag: '"A"', lastModified: new Date(Date.UTC(2024, 0, 1)) };
    const vB: BodyRoute = { body: B, etag: '"B"', lastModified: new Date(Date.UTC(2024, 0, 2)) };
    let n = 0;
    const routes: Record<string, Route> = {
      "/switch": { handler: () => (++n <= 4 ? vA : vB) },
      // The ETag differs on the first 2 requests only: the restart sees a stable file.
      "/settles": { body: BODY, fault: { kind: "etag_change" }, faultTimes: 2 },
      // The ETag differs on every request: one restart, then ORIGIN_CHANGED.
      "/flapping": { body: BODY, fault: { kind: "etag_change" } },
    };
    await withEngine(routes, async (w) => {
      const r = await downloadToPartial(`${w.origin.url}/switch`, w.partial(), w.options());
      assert.equal(r.sha256, sha256(B));
      assert.equal(r.bytes, B.length);
      assert.deepEqual(await Deno.readFile(r.file), B);
      const gets = getsOf(w.origin, "/switch");
      // Two probes (no If-Range on a fresh start): the first download and the restart.
      assert.equal(gets.filter((g) => !g.headers["if-range"]).length, 2);
      // The request that saw B while asking If-Range "A" (the origin answered 200) caused the restart ...
      assert.ok(gets.slice(4).some((g) => g.headers["if-range"] === '"A"'));
      // ... and after the restart every part asked for B.
      const restart = gets.findLastIndex((g) => !g.headers["if-range"]);
      assert.ok(gets.slice(restart + 1).every((g) => g.headers["if-range"] === '"B"'));

      const settled = await downloadToPartial(`${w.origin.url}/settles`, w.partial(), w.options());
      assert.equal(settled.sha256, SHA);
      assert.equal(
        getsOf(w.origin, "/settles").filter((g) => !g.headers["if-range"]).length,
        2,
        "one restart",
      );

      const e = await lodeErrorOf(downloadToPartial(`${w.origin.url}/flapping`, w.partial(), w.options()));
      assert.equal(e.code, "ORIGIN_CHANGED", `${e.code}: ${e.message}`);
      assert.equal(
        getsOf(w.origin, "/flapping").filter((g) => !g.headers["if-range"]).length,
        2,
        "one restart",
      );
    });
  },
);

engineTest(
  "redirects — a chain to an allowed host works with ranges at the final host; loops and other hosts fail typed",
  async () => {
    const routes: Record<string, Route> = {};
    await withEngine(routes, async (w) => {
      const a = w.origin;
      const b = w.second!;
      routes["/r1"] = { redirect: `${a.url}/r2` };
      routes["/r2"] = { redirect: `${b.url}/f`, status: 307 };
      routes["/loop"] = { redirect: `${a.url}/loop` };

      // B not allowed: refused before any connection to it.
      const refused = await lodeErrorOf(
        downloadToPartial(`${a.url}/r1`, w.partial(), w.options({ policy: new HostPolicy().with([a.url]) })),
      );
      assert.equal(refused.code, "HOST_NOT_ALLOWED");
      assert.equal(refused.details.host, "127.0.0.2");
      assert.equal(b.connections, 0);

      const r = await downloadToPartial(`${a.url}/r1`, w.partial(), w.options());
      assert.equal(r.sha256, SHA);
      // A saw only the redirecting hops of the probe (after the refused attempt's two); B every range.
      assert.equal(getsOf(a, "/r1").length, 2);
      assert.equal(getsOf(a, "/r2").length, 2);
      const atB = getsOf(b, "/f");
      assert.equal(atB.length, PARTS.length);
      assert.deepEqual(
        atB.map(rangeOf).sort((x, y) => x!.start - y!.start),
        PARTS.map((p) => ({ start: p.start, end: p.end - 1 })),
      );

      const loop = await lodeErrorOf(downloadToPartial(`${a.url}/loop`, w.partial(), w.options()));
      assert.equal(loop.code, "HTTP_STATUS");
      assert.match(loop.message, /too many redirects/);
    }, { second: { "/f": { body: BODY } } });
  },
);

engineTest("an origin that ignores Range gets one stream: right bytes, one GET, no state.json", async () => {
  await withEngine({ "/f": { body: BODY, fault: { kind: "ignore_range" } } }, async (w) => {
    const partial = w.partial();
    const starts: (number | null)[] = [];
    const r = await downloadToPartial(
      `${w.origin.url}/f`,
      partial,
      w.options({ onStart: (i) => starts.push(i.totalBytes) }),
    );
    assert.equal(r.sha256, SHA);
    assert.deepEqual(await Deno.readFile(r.file), BODY);
    assert.deepEqual(starts, [BODY.length]);
    assert.equal(getsOf(w.origin, "/f").length, 1);
    assert.equal(await exists(`${partial}/state.json`), false);
  });
});

engineTest(
  "an expired signed URL is resolved again through the original URL, and the download completes",
  async () => {
    // A signs a new token on every request; B accepts a token for 150 ms after it was signed
    // (and its requests take 25 ms each: the download outlives several tokens).
    const LIFETIME_MS = 150;
    const signedAt: number[] = [];
    let refused = 0;
    let bUrl = "";
    const clean: BodyRoute = { body: BODY, etag: '"s"' };
    const signer: Route = {
      handler: () => {
        signedAt.push(Date.now());
        return { redirect: `${bUrl}/blob?token=${signedAt.length - 1}` };
      },
    };
    const blob: Route = {
      handler: async (req) => {
        const at = signedAt[Number(new URL(req.path, "https://x").searchParams.get("token"))];
        if (at === undefined || Date.now() - at > LIFETIME_MS) {
          refused++;
          return { status: 403, body: "token expired" };
        }
        await sleep(25);
        return clean;
      },
    };
    await withEngine({ "/signed": signer }, async (w) => {
      bUrl = w.second!.url;
      const r = await downloadToPartial(`${w.origin.url}/signed`, w.partial(), w.options());
      assert.equal(r.sha256, SHA);
      assert.deepEqual(await Deno.readFile(r.file), BODY);
      assert.ok(refused >= 1, "some token expired");
      assert.ok(signedAt.length >= 2, `signed ${signedAt.length} times`);
      // Only the probe and the re-resolutions went to A; every range went to B.
      assert.equal(getsOf(w.origin, "/signed").length, signedAt.length);
      assert.ok(getsOf(w.second!, "/blob").length >= PARTS.length + refused);
    }, { second: { "/blob": blob } });
  },
);

engineTest(
  "expectedBytes different from the origin's size fails SIZE_MISMATCH before any part is fetched",
  async () => {
    const routes: Record<string, Route> = {
      "/f": { body: BODY },
      "/whole": { body: BODY, fault: { kind: "ignore_range" } },
    };
    await withEngine(routes, async (w) => {
      for (const path of ["/f", "/whole"]) {
        const partial = w.partial();
        const e = await lodeErrorOf(
          downloadToPartial(`${w.origin.url}${path}`, partial, w.options({ expectedBytes: BODY.length - 1 })),
        );
        assert.equal(e.code, "SIZE_MISMATCH", path);
        assert.equal(e.details.expected_bytes, BODY.length - 1);
        assert.equal(e.details.received_bytes, BODY.length);
        assert.equal(getsOf(w.origin, path).length, 1, `${path}: only the probe`);
        assert.equal(await exists(partial), false, `${path}: nothing written`);
      }
    });
  },
);

engineTest(
  "an unpinned URL pulled under a second name reuses the blob and leaves no partial behind",
  async () => {
    await withEngine({ "/m.gguf": { body: BODY } }, async (w) => {
      for (const name of ["first", "second"]) {
        const r = await w.lode(["pull", `${w.origin.url}/m.gguf`, "--name", name, "--json"]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      const tree = await listTree(w.store);
      assert.deepEqual(tree.filter((p) => p.includes(".partial-")), [], tree.join("\n"));
      assert.ok(tree.includes(`blobs/sha256/${SHA.slice(0, 2)}/${SHA}/data`), tree.join("\n"));
    });
  },
);

/**
 * Fault injection for the parallel download engine (`downloadToPartial`), in process, against a real
 * HTTPS origin on loopback: every fault must end in the right bytes with the right SHA-256, or in a
 * typed LodeError with the right code — never in a wrong result.
 *
 * Success, the connection budget, resets, corruption, short bodies, lying Content-Range, 429/503 with
 * Retry-After and stalls. The origin changing under the engine: download_engine_origin_test.ts; resume:
 * download_engine_resume_test.ts.
 */
import assert from "node:assert/strict";
import { ConnectionBudget } from "../src/download/connection_budget.ts";
import { downloadToPartial } from "../src/download/parallel_download.ts";
import type { LodeError } from "../src/errors.ts";
import type { OriginRequest, Route } from "./support/origin.ts";
import {
  engineTest,
  faulty,
  FIRST_PART,
  getsOf,
  lodeErrorOf,
  PART,
  plannedParts,
  randomBody,
  rangeOf,
  rangeRoute,
  sha256,
  sleep,
  withEngine,
} from "./support/engine_world.ts";
import { listTree } from "./support/lode_cli.ts";

/** 18 parts: the 4 MiB probe part, sixteen 256 KiB parts, a 1000-byte tail. */
const BODY = randomBody(FIRST_PART + 16 * PART + 1000);
const SHA = sha256(BODY);
const PARTS = plannedParts(BODY.length);
/** A part in the middle (not the probe's). */
const MID = PARTS[5]!;

function sortedRanges(reqs: OriginRequest[]) {
  return reqs.map(rangeOf).sort((a, b) => a!.start - b!.start);
}

engineTest(
  "1, 4, 16 and the default connections give the exact bytes and sha256, one Range GET per part",
  async () => {
    await withEngine({ "/f": { body: BODY } }, async (w) => {
      const failures: string[] = [];
      // Each count is checked even when another fails, so that one message names every broken count.
      for (const connections of [1, 4, 16, undefined]) {
        const from = w.origin.requests.length;
        try {
          const r = await downloadToPartial(`${w.origin.url}/f`, w.partial(), w.options({ connections }));
          assert.equal(r.sha256, SHA);
          assert.equal(r.bytes, BODY.length);
          assert.equal(r.resumedBytes, 0);
          assert.deepEqual(await Deno.readFile(r.file), BODY);
          const gets = getsOf(w.origin, "/f", from);
          assert.ok(gets.every((g) => g.headers["range"]), "every GET is a Range request");
          assert.deepEqual(sortedRanges(gets), PARTS.map((p) => ({ start: p.start, end: p.end - 1 })));
        } catch (e) {
          failures.push(`connections=${connections ?? "default"}: ${e instanceof Error ? e.message : e}`);
        }
      }
      assert.deepEqual(failures, []);
    });
  },
);

engineTest("a shared ConnectionBudget(2) keeps two downloads at <= 2 requests in flight", async () => {
  let inFlight = 0;
  let max = 0;
  const clean = { body: BODY, etag: '"v"' };
  // Every request spends 30 ms in the handler: requests that overlap are seen there together.
  const counting: Route = {
    handler: async () => {
      max = Math.max(max, ++inFlight);
      await sleep(30);
      inFlight--;
      return clean;
    },
  };
  await withEngine({ "/f": counting }, async (w) => {
    const url = `${w.origin.url}/f`;
    // The meter works: two downloads with budgets of their own overlap well past 2.
    await Promise.all([0, 1].map(() => downloadToPartial(url, w.partial(), w.options({ connections: 4 }))));
    assert.ok(max > 2, `control run peaked at ${max}`);

    max = 0;
    const budget = new ConnectionBudget(2);
    const running = Promise.withResolvers<void>();
    const first = downloadToPartial(
      url,
      w.partial(),
      w.options({ connections: 4, budget, onProgress: () => running.resolve() }),
    );
    // The second starts while the first holds the budget (as `lode pull A B` does when A is under way).
    await running.promise;
    const second = downloadToPartial(url, w.partial(), w.options({ connections: 4, budget }));
    const results = await Promise.all([first, second]);
    assert.deepEqual(results.map((r) => r.sha256), [SHA, SHA]);
    assert.ok(max <= 2, `${max} requests were in flight at once under a budget of 2`);
    assert.equal(max, 2, "the budget's two slots were used");
  });
});

engineTest(
  "automatic connections: a probe connection stalled in a read is waiting for the path, so the others open during the stall",
  async () => {
    const STALL_AT = 64 * 1024;
    const others = Promise.withResolvers<void>();
    let probe: OriginRequest | undefined;
    /** Whether the probe's GET was still stalled when the first other part was asked for. */
    let othersDuringStall: boolean | undefined;
    const route = rangeRoute(BODY, (range, req) => {
      if (range?.start === 0 && probe === undefined) {
        probe = req;
        // The stall ends when another part is asked for, or after 10 s (then the assertion below fails).
        return faulty(BODY, { kind: "stall", afterBytes: STALL_AT, ms: 10_000, release: others.promise });
      }
      if (range !== null && range.start >= PARTS[1]!.start && othersDuringStall === undefined) {
        othersDuringStall = probe!.sentBytes <= STALL_AT;
        others.resolve();
      }
      return undefined;
    });
    await withEngine({ "/f": route }, async (w) => {
      const r = await downloadToPartial(
        `${w.origin.url}/f`,
        w.partial(),
        w.options({ connections: "auto", stallMs: 120_000 }),
      );
      assert.equal(r.sha256, SHA);
      assert.equal(othersDuringStall, true, "the other parts waited for the stalled probe's part");
    });
  },
);

engineTest(
  "a reset mid-body is retried from where the bytes end; other parts are not re-fetched",
  async () => {
    let hits = 0;
    const route = rangeRoute(BODY, (range) => {
      if (range?.start !== MID.start || hits++ > 0) return undefined;
      return faulty(BODY, { kind: "reset", afterBytes: 100_000 });
    });
    await withEngine({
      "/f": route,
      "/probe-reset": { body: BODY, fault: { kind: "reset", afterBytes: 1_500_000 }, faultTimes: 1 },
    }, async (w) => {
      const r = await downloadToPartial(`${w.origin.url}/f`, w.partial(), w.options());
      assert.equal(r.sha256, SHA);
      assert.deepEqual(await Deno.readFile(r.file), BODY);
      const gets = getsOf(w.origin, "/f");
      assert.equal(gets.length, PARTS.length + 1, "one retry, nothing else fetched twice");
      // The retry asks for the rest of the same part: from where its bytes on disk end.
      const again = gets.map(rangeOf).filter((g) => g!.start >= MID.start && g!.start < MID.end);
      assert.equal(again.length, 2);
      assert.equal(again[1]!.end, MID.end - 1);
      assert.ok(again[1]!.start - MID.start <= 100_000, `retry starts at +${again[1]!.start - MID.start}`);

      // The same for the probe's own (4 MiB) part, reset after 1.5 MB.
      const retries: LodeError[] = [];
      const p = await downloadToPartial(
        `${w.origin.url}/probe-reset`,
        w.partial(),
        w.options({ onRetry: (e) => retries.push(e) }),
      );
      assert.equal(p.sha256, SHA);
      assert.equal(retries.length, 1);
      assert.equal(retries[0]!.code, "NETWORK");
      const probeGets = getsOf(w.origin, "/probe-reset");
      assert.equal(probeGets.length, PARTS.length + 1);
      const probePart = probeGets.map(rangeOf).filter((g) => g!.start < FIRST_PART);
      assert.equal(probePart.length, 2, "the probe's part was asked for once more");
      assert.equal(probePart[1]!.end, FIRST_PART - 1);
      assert.ok(probePart[1]!.start <= 1_500_000, `continued at ${probePart[1]!.start}`);
    });
  },
);

engineTest(
  "a corrupted byte changes the digest the engine returns; the CLI's pin quarantines (exit 4)",
  async () => {
    const offset = MID.start + 777;
    const corrupted = BODY.slice();
    corrupted[offset] = corrupted[offset]! ^ 0xff;
    const bad = sha256(corrupted);
    await withEngine({ "/m.gguf": { body: BODY, fault: { kind: "corrupt", offset } } }, async (w) => {
      const url = `${w.origin.url}/m.gguf`;
      const r = await downloadToPartial(url, w.partial(), w.options());
      assert.notEqual(r.sha256, SHA, "a caller comparing with the true sha256 catches it");
      assert.equal(r.sha256, bad, "the digest is of the bytes on disk");
      assert.deepEqual(await Deno.readFile(r.file), corrupted);

      const cli = await w.lode(["pull", `${url}#sha256=${SHA}`, "--connections", "4", "--json"]);
      assert.equal(cli.code, 4, cli.stdout + cli.stderr);
      const failed = cli.events.find((e) => e.event === "failed");
      assert.equal(failed?.code, "DIGEST_MISMATCH");
      const tree = await listTree(w.store);
      assert.ok(!tree.some((p) => p.startsWith("manifests/") || p.startsWith("blobs/")), tree.join("\n"));
      const records = tree.filter((p) => p.startsWith("locks/quarantine/") && p.endsWith(".json"));
      assert.equal(records.length, 1, tree.join("\n"));
      const record = JSON.parse(await Deno.readTextFile(`${w.store}/${records[0]}`));
      assert.equal(record.expected, SHA);
      assert.equal(record.actual, bad);
    });
  },
);

engineTest(
  "a short body once is retried; always short fails after the attempts with the transport's error",
  async () => {
    const routes: Record<string, Route> = {
      "/once": { body: BODY, fault: { kind: "short", bytes: 300_000 }, faultTimes: 1 },
      "/always": { body: BODY, fault: { kind: "short", bytes: 100_000 } },
    };
    await withEngine(routes, async (w) => {
      const r = await downloadToPartial(`${w.origin.url}/once`, w.partial(), w.options());
      assert.equal(r.sha256, SHA);
      assert.deepEqual(await Deno.readFile(r.file), BODY);

      const retries: LodeError[] = [];
      const e = await lodeErrorOf(
        downloadToPartial(
          `${w.origin.url}/always`,
          w.partial(),
          w.options({ onRetry: (x) => retries.push(x) }),
        ),
      );
      // With a Content-Length, fetch itself fails the truncated body (NETWORK); without one, the engine
      // counts the bytes (SIZE_MISMATCH, next test). Either way: typed, retried, attempts recorded.
      assert.ok(e.code === "NETWORK" || e.code === "SIZE_MISMATCH", `${e.code}: ${e.message}`);
      assert.equal(
        e.details.attempts,
        3,
        `${e.message} ${JSON.stringify(e.details)} | ${retries.map((r) => r.message).join(" / ")}`,
      );
      assert.ok(retries.length >= 2);
      // The error must say what happened on the wire, not what broke inside the part writer afterwards.
      for (const x of [e, ...retries]) assert.doesNotMatch(x.message, /detached ArrayBuffer/);
    });
  },
);

engineTest("a 206 without Content-Length that ends early is SIZE_MISMATCH after the attempts", async () => {
  const encoder = new TextEncoder();
  const route = rangeRoute(BODY, (range) => {
    if (range?.start === undefined || range.start < MID.start || range.start >= MID.end) return undefined;
    // Close-delimited: the client sees a clean end of body after 1000 bytes.
    const head = encoder.encode(
      `HTTP/1.1 206 Partial Content\r\ncontent-range: bytes ${range.start}-${range.end}/${BODY.length}\r\n` +
        `connection: close\r\n\r\n`,
    );
    const raw = new Uint8Array(head.length + 1000);
    raw.set(head);
    raw.set(BODY.subarray(range.start, range.start + 1000), head.length);
    return { raw, close: true };
  });
  await withEngine({ "/f": route }, async (w) => {
    const e = await lodeErrorOf(downloadToPartial(`${w.origin.url}/f`, w.partial(), w.options()));
    assert.equal(e.code, "SIZE_MISMATCH", `${e.code}: ${e.message}`);
    assert.equal(e.details.attempts, 3);
    assert.equal(
      e.details.expected_bytes,
      MID.end - MID.start - 2000,
      "each attempt kept the 1000 bytes it got",
    );
  });
});

engineTest(
  "a wrong Content-Range is a typed HTTP_STATUS error (or the right bytes), never wrong bytes",
  async () => {
    let hits = 0;
    const midOnce = rangeRoute(BODY, (range) => {
      if (range?.start !== MID.start || hits++ > 0) return undefined;
      return { ...faulty(BODY, undefined), fault: { kind: "wrong_content_range" } };
    });
    const routes: Record<string, Route> = {
      "/always": { body: BODY, fault: { kind: "wrong_content_range" } },
      "/probe-once": { body: BODY, fault: { kind: "wrong_content_range" }, faultTimes: 1 },
      "/mid-once": midOnce,
    };
    await withEngine(routes, async (w) => {
      for (const path of Object.keys(routes)) {
        try {
          const r = await downloadToPartial(`${w.origin.url}${path}`, w.partial(), w.options());
          assert.notEqual(path, "/always", "every answer names the wrong range: it cannot succeed");
          assert.equal(r.sha256, SHA, path);
          assert.deepEqual(await Deno.readFile(r.file), BODY, path);
        } catch (e) {
          const error = await lodeErrorOf(Promise.reject(e));
          assert.equal(error.code, "HTTP_STATUS", `${path}: ${error.code} ${error.message}`);
          assert.match(error.message, /Content-Range/);
        }
      }
    });
  },
);

engineTest(
  "503 on the probe and 429 on a part with Retry-After: 1 wait about a second, then succeed",
  async () => {
    const seen = new Set<string>();
    const route = rangeRoute(BODY, (range) => {
      const key = range ? `${range.start}` : "none";
      if (range?.start === 0 && !seen.has(key)) {
        seen.add(key);
        return { status: 503, headers: { "retry-after": "1" } };
      }
      if (range?.start === MID.start && !seen.has(key)) {
        seen.add(key);
        return { status: 429, headers: { "retry-after": "1" } };
      }
      return undefined;
    });
    await withEngine({ "/f": route }, async (w) => {
      const retries: { code: string; status: unknown; delayMs: number }[] = [];
      const r = await downloadToPartial(
        `${w.origin.url}/f`,
        w.partial(),
        w.options({
          // maxMs also caps the Retry-After honoured (retry.ts): leave room for 1 s.
          retry: { attempts: 3, baseMs: 10, maxMs: 5000 },
          onRetry: (e, _attempt, delayMs) =>
            retries.push({ code: e.code, status: e.details.status, delayMs }),
        }),
      );
      assert.equal(r.sha256, SHA);
      assert.deepEqual(retries.map((x) => [x.code, x.status, x.delayMs]).sort(), [
        ["HTTP_STATUS", 429, 1000],
        ["HTTP_STATUS", 503, 1000],
      ]);
      const gets = getsOf(w.origin, "/f");
      for (const start of [0, MID.start]) {
        const times = gets.filter((g) => rangeOf(g)?.start === start).map((g) => g.time);
        assert.equal(times.length, 2, `range at ${start} asked twice`);
        assert.ok(times[1]! - times[0]! >= 950, `retried after ${times[1]! - times[0]!} ms`);
      }
    });
  },
);

engineTest("a stall restarts the part (STALLED via onRetry); stalling every time fails STALLED", async () => {
  const routes: Record<string, Route> = {
    "/once": { body: BODY, fault: { kind: "stall", afterBytes: 200_000, ms: 5000 }, faultTimes: 1 },
    "/always": { body: BODY, fault: { kind: "stall", afterBytes: 64 * 1024, ms: 5000 } },
  };
  await withEngine(routes, async (w) => {
    const retries: LodeError[] = [];
    const r = await downloadToPartial(
      `${w.origin.url}/once`,
      w.partial(),
      w.options({ onRetry: (e) => retries.push(e) }),
    );
    assert.equal(r.sha256, SHA);
    // Cut at stallMs, not waited out: a stall sat through would have ended in the bytes, with no retry.
    assert.deepEqual(retries.map((e) => e.code), ["STALLED"]);

    const e = await lodeErrorOf(downloadToPartial(`${w.origin.url}/always`, w.partial(), w.options()));
    assert.equal(e.code, "STALLED", `${e.code}: ${e.message}`);
    assert.equal(e.details.attempts, 3);
  });
});

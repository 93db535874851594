/**
 * Fault injection for the parallel download engine, part 3: interruption and resume — a cancelled
 * download, the `state.json` sidecar it leaves, the second run that fetches only what is missing, a
 * file that changed on the origin between the runs, and `lode pull` killed with SIGKILL.
 */
import assert from "node:assert/strict";
import { fetchSender } from "../src/download/http_get.ts";
import type { RestartInfo } from "../src/download/download_options.ts";
import { downloadToPartial } from "../src/download/parallel_download.ts";
import { readResumeState, type ResumeState } from "../src/download/resume_state.ts";
import type { BodyRoute, OriginRequest, Route } from "./support/origin.ts";
import { finish, spawnLode } from "./support/lode_cli.ts";
import {
  engineTest,
  FIRST_PART,
  getsOf,
  lodeErrorOf,
  PART,
  plannedParts,
  randomModel,
  rangeBytes,
  rangeOf,
  sha256,
  sleep,
  withEngine,
} from "./support/engine_world.ts";

const BODY = randomModel(FIRST_PART + 16 * PART + 1000);
const SHA = sha256(BODY);
const PARTS = plannedParts(BODY.length);
const LAST = PARTS.at(-1)!;
/** Abort once the probe part and half the small parts are on disk. */
const HALF = FIRST_PART + 8 * PART;

const doneBytes = (s: ResumeState) => s.parts.reduce((sum, p) => sum + p.done, 0);

/** A route whose answer can be switched; every request waits `ms` in the handler (slow enough to interrupt). */
interface Switchable {
  current: BodyRoute;
  /** Answer 404 (see {@link interruptHalfway}). */
  closed: boolean;
  route: Route;
}

function switchable(current: BodyRoute, ms: number): Switchable {
  const s: Switchable = {
    current,
    closed: false,
    route: {
      handler: async () => {
        await sleep(ms);
        return s.closed ? { status: 404 } : s.current;
      },
    },
  };
  return s;
}

/**
 * Starts a download with a signal and aborts it once `HALF` bytes are on disk. With `gate`, the origin
 * answers 404 from the abort on: the engine does not stop its workers on a cancel (see the test
 * "cancelling stops the download at once"), and the resume tests need a download that really stopped.
 */
async function interruptHalfway(
  url: string,
  partial: string,
  options: Parameters<typeof downloadToPartial>[2],
  gate?: Switchable,
) {
  const abort = new AbortController();
  let reported = 0;
  let abortedAt = 0;
  const error = await lodeErrorOf(downloadToPartial(url, partial, {
    ...options,
    signal: abort.signal,
    onProgress: (bytes) => {
      reported = bytes;
      if (bytes < HALF || abortedAt) return;
      abortedAt = Date.now();
      if (gate) gate.closed = true;
      abort.abort();
    },
  }));
  if (gate) gate.closed = false;
  return { error, reported, abortedAt };
}

/** Parts (by start offset) asked for in both request lists. */
function partsAskedTwice(first: OriginRequest[], second: OriginRequest[]): number {
  const partOf = (r: OriginRequest) => PARTS.findIndex((p) => rangeOf(r)!.start < p.end);
  const a = new Set(first.map(partOf));
  return new Set(second.map(partOf).filter((i) => a.has(i))).size;
}

engineTest("cancelling through the signal fails INTERRUPTED", async () => {
  const origin = switchable({ body: BODY, etag: '"v"' }, 30);
  await withEngine({ "/f": origin.route }, async (w) => {
    const { error } = await interruptHalfway(`${w.origin.url}/f`, w.partial(), w.options({ connections: 2 }));
    assert.equal(error.code, "INTERRUPTED", `${error.code}: ${error.message}`);
  });
});

engineTest("cancelling stops the download at once: no request starts after the abort", async () => {
  const origin = switchable({ body: BODY, etag: '"v"' }, 30);
  await withEngine({ "/f": origin.route }, async (w) => {
    const abort = new AbortController();
    const options = w.options({ connections: 2 });
    // Every GET the engine sends, and whether the download was cancelled by then.
    const sent: { range: string | undefined; afterAbort: boolean }[] = [];
    const send = options.send ?? fetchSender(options.clientFor);
    const failed = downloadToPartial(`${w.origin.url}/f`, w.partial(), {
      ...options,
      send: (url, init) => {
        sent.push({
          range: init.headers?.["range"] ?? init.headers?.["Range"],
          afterAbort: abort.signal.aborted,
        });
        return send(url, init);
      },
      signal: abort.signal,
      onProgress: (bytes) => {
        if (bytes >= HALF) abort.abort();
      },
    });
    const error = await lodeErrorOf(failed);
    assert.equal(error.code, "INTERRUPTED");
    assert.ok(sent.length > 0 && sent.length < PARTS.length, `${sent.length} GETs of ${PARTS.length} parts`);
    assert.deepEqual(sent.filter((s) => s.afterAbort).map((s) => s.range), [], "GETs sent after the abort");
  });
});

engineTest("an interrupted download resumes from state.json and fetches only the missing bytes", async () => {
  const origin = switchable({ body: BODY, etag: '"v"' }, 30);
  await withEngine({ "/f": origin.route }, async (w) => {
    const url = `${w.origin.url}/f`;
    const partial = w.partial();
    const { reported, abortedAt } = await interruptHalfway(
      url,
      partial,
      w.options({ connections: 2 }),
      origin,
    );
    const firstRun = getsOf(w.origin, "/f").filter((g) => g.time <= abortedAt);

    const state = await readResumeState(partial);
    assert.ok(state, "state.json was written");
    assert.equal(state.url, url);
    assert.equal(state.size, BODY.length);
    assert.equal(state.etag, '"v"');
    const saved = doneBytes(state);
    assert.ok(saved >= reported, `the sidecar records ${saved} bytes, ${reported} were reported`);
    assert.ok(saved < BODY.length);
    assert.ok(state.parts.filter((p) => p.done === p.end - p.start).length >= PARTS.length / 2);
    // Whatever it claims is on disk, and right.
    const onDisk = await Deno.readFile(`${partial}/data.tmp`);
    for (const p of state.parts) {
      assert.deepEqual(onDisk.subarray(p.start, p.start + p.done), BODY.subarray(p.start, p.start + p.done));
    }

    const from = w.origin.requests.length;
    const r = await downloadToPartial(url, partial, w.options({ connections: 2 }));
    assert.equal(r.sha256, SHA);
    assert.deepEqual(await Deno.readFile(r.file), BODY);
    assert.equal(r.resumedBytes, saved);
    const secondRun = getsOf(w.origin, "/f", from);
    assert.equal(rangeBytes(secondRun), BODY.length - saved, "exactly the missing bytes were asked for");
    for (const g of secondRun) {
      const range = rangeOf(g)!;
      assert.ok(state.parts.some((p) => range.start === p.start + p.done && range.end === p.end - 1));
      assert.equal(g.headers["if-range"], '"v"');
    }
    assert.ok(partsAskedTwice(firstRun, secondRun) <= 2, "at most one part per connection asked twice");
  });
});

engineTest(
  "a file that changed on the origin between runs starts over in parallel, says why, right bytes",
  async () => {
    const changes: [RestartInfo["reason"], BodyRoute, BodyRoute][] = [
      // Another ETag, same size: the resumed probe's If-Range fails and the origin sends it whole.
      ["validator_changed", { body: BODY, etag: '"v1"' }, { body: randomModel(BODY.length), etag: '"v2"' }],
      // Another size too.
      ["validator_changed", { body: BODY, etag: '"v1"' }, {
        body: randomModel(BODY.length + PART / 2),
        etag: '"v2"',
      }],
      // No ETag and an unchanged Last-Modified, so If-Range still matches, but the 206 names another size.
      [
        "size_changed",
        { body: BODY, headers: { etag: "" }, lastModified: new Date(Date.UTC(2024, 0, 1)) },
        {
          body: randomModel(BODY.length - PART),
          headers: { etag: "" },
          lastModified: new Date(Date.UTC(2024, 0, 1)),
        },
      ],
    ];
    for (const [reason, before, after] of changes) {
      const what = `${reason} (${after.body.length} bytes)`;
      const origin = switchable(before, 20);
      await withEngine({ "/f": origin.route }, async (w) => {
        const url = `${w.origin.url}/f`;
        const partial = w.partial();
        await interruptHalfway(url, partial, w.options({ connections: 4 }), origin);
        const state = await readResumeState(partial);
        assert.ok(
          state && doneBytes(state) < state.size,
          `${what}: an incomplete state.json after the first run`,
        );
        origin.current = after;
        const from = w.origin.requests.length;
        const restarts: RestartInfo[] = [];
        const r = await downloadToPartial(
          url,
          partial,
          w.options({ connections: 4, onRestart: (info) => restarts.push(info) }),
        );
        assert.equal(r.sha256, sha256(after.body), what);
        assert.equal(r.resumedBytes, 0, what);
        assert.deepEqual(await Deno.readFile(r.file), after.body, what);
        assert.deepEqual(
          restarts.map((x) => [x.reason, x.discardedBytes]),
          [[reason, doneBytes(state)]],
          what,
        );
        assert.equal(restarts[0]!.previous?.sizeBytes, BODY.length, what);
        // The new version is fetched like a fresh download: every part once, on several connections at once.
        const gets = getsOf(w.origin, "/f", from);
        // The first is the resumed probe (If-Range with the old validator); the rest are the fresh download.
        assert.ok(gets[0]?.headers["if-range"], `${what}: the resumed probe sent If-Range`);
        const fresh = gets.slice(1);
        const parts = plannedParts(after.body.length);
        assert.equal(rangeBytes(fresh), after.body.length, `${what}: the whole new file asked for in ranges`);
        assert.equal(fresh.length, parts.length, `${what}: one ranged GET per part`);
        const connections = new Set(fresh.map((g) => g.connection));
        assert.ok(connections.size >= 2, `${what}: ${connections.size} connection(s)`);
      });
    }
  },
);

engineTest("nothing writes into the partial directory after downloadToPartial resolves", async () => {
  // The last part comes late, so a periodic sidecar save is due just as the download finishes.
  const clean: BodyRoute = { body: BODY, etag: '"v"' };
  const lateLast: Route = {
    handler: async (req) => {
      if (rangeOf(req)?.start === LAST.start) await sleep(400);
      return clean;
    },
  };
  await withEngine({ "/f": lateLast }, async (w) => {
    for (let i = 0; i < 3; i++) {
      const partial = w.partial();
      const r = await downloadToPartial(`${w.origin.url}/f`, partial, w.options({ stallMs: 5000 }));
      assert.equal(r.sha256, SHA);
      const listing = async () =>
        JSON.stringify(
          await Promise.all(
            (await Array.fromAsync(Deno.readDir(partial))).map(async (e) => {
              const st = await Deno.stat(`${partial}/${e.name}`);
              return [e.name, st.size, st.mtime?.getTime()];
            }),
          ).then((l) => l.sort()),
        );
      const atResolve = await listing();
      await sleep(150);
      assert.equal(
        await listing(),
        atResolve,
        "a write into the partial directory after the promise resolved",
      );
    }
  });
});

engineTest("lode pull killed with SIGKILL resumes on the next pull; bytes refetched bounded", async () => {
  const big = randomModel(24 * 1024 * 1024);
  const bigSha = sha256(big);
  const clean: BodyRoute = { body: big, etag: '"big"' };
  // Throttled while the first pull runs: every response pauses 600 ms after its first MiB.
  const throttled: BodyRoute = { ...clean, fault: { kind: "stall", afterBytes: 1024 * 1024, ms: 600 } };
  let throttle = true;
  const route: Route = { handler: () => (throttle ? throttled : clean) };
  await withEngine({ "/big.gguf": route }, async (w) => {
    const ref = `${w.origin.url}/big.gguf#sha256=${bigSha}`;
    const partial = `${w.store}/blobs/sha256/${bigSha.slice(0, 2)}/.partial-${bigSha}`;
    const child = spawnLode(["--ca-cert", w.ca.caCertPath, "pull", ref, "--connections", "2"], {
      store: w.store,
    });
    const deadline = Date.now() + 20_000;
    let lastUpdate = "";
    while (true) {
      assert.ok(Date.now() < deadline, "the pull never saved two finished parts");
      const state = await readResumeState(partial);
      const complete = state?.parts.filter((p) => p.done === p.end - p.start).length ?? 0;
      // Kill right after a save: what the sidecar lags behind is then at most the parts in flight.
      if (complete >= 2 && state!.updated_at !== lastUpdate && lastUpdate !== "") break;
      if (complete >= 2) lastUpdate = state!.updated_at;
      await sleep(10);
    }
    child.kill("SIGKILL");
    await finish(child);
    const firstRun = getsOf(w.origin, "/big.gguf");
    const state = (await readResumeState(partial))!;
    const saved = doneBytes(state);
    assert.ok(saved > 0 && saved < big.length, `saved ${saved}`);

    throttle = false;
    const r = await w.lode(["pull", ref, "--connections", "2", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(
      await Deno.readFile(`${w.store}/blobs/sha256/${bigSha.slice(0, 2)}/${bigSha}/data`),
      big,
    );
    const secondRun = getsOf(w.origin, "/big.gguf", firstRun.length);
    assert.equal(
      rangeBytes(secondRun),
      big.length - saved,
      "the second pull asked for the missing bytes only",
    );
    // Parts are 4 MiB here (the CLI's size for 24 MiB on 2 connections). Bytes the origin sent in the
    // first pull and was asked for again: at most one part per connection.
    const sentFirst = firstRun.map((g) => ({
      start: rangeOf(g)!.start,
      end: rangeOf(g)!.start + g.sentBytes,
    }));
    const twice = secondRun.reduce((sum, g) => {
      const r = rangeOf(g)!;
      return sum +
        sentFirst.reduce(
          (s, f) => s + Math.max(0, Math.min(f.end, r.end + 1) - Math.max(f.start, r.start)),
          0,
        );
    }, 0);
    assert.ok(twice <= 2 * 4 * 1024 * 1024, `${twice} bytes sent in both pulls`);
  });
});

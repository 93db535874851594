/**
 * `lode pull` of a file that changed on the origin between two pulls: the first pull is killed half-way,
 * the origin then serves another version, and the next pull discards the kept bytes, says why (a
 * `file_restarted` event with `--json`, one line on the terminal otherwise) and fetches the new version
 * with several connections, like a fresh pull.
 */
import assert from "node:assert/strict";
import { sha256Bytes } from "../src/store/hash.ts";
import { readResumeState } from "../src/download/resume_state.ts";
import type { BodyRoute, Route } from "./support/origin.ts";
import { finish, spawnLode } from "./support/lode_cli.ts";
import { getsOf, randomModel, rangeBytes, sha256, sleep, withEngine } from "./support/engine_world.ts";

const MIB = 1024 * 1024;

/** A world whose `/m.gguf` is slow until `fast`, and serves `version` (switchable). */
function changingOrigin(first: BodyRoute) {
  const state = { version: first, slow: true };
  const route: Route = {
    handler: () =>
      state.slow ? { ...state.version, fault: { kind: "stall", afterBytes: MIB, ms: 600 } } : state.version,
  };
  return { state, route };
}

/** Starts `lode pull URL` and SIGKILLs it once its sidecar records two finished parts. */
async function killHalfway(
  w: Parameters<Parameters<typeof withEngine>[1]>[0],
  url: string,
): Promise<number> {
  const partial = `${w.store}/blobs/sha256/un/.partial-${sha256Bytes(`url:${url}`)}`;
  const child = spawnLode(["--ca-cert", w.ca.caCertPath, "pull", url, "--name", "m", "--connections", "4"], {
    store: w.store,
  });
  let exited = false;
  child.status.then(() => exited = true);
  let done = 0;
  while (true) {
    assert.ok(!exited, "the first pull ended before it saved two finished parts");
    const state = await readResumeState(partial);
    const complete = state?.parts.filter((p) => p.done === p.end - p.start).length ?? 0;
    if (state && complete >= 2) {
      done = state.parts.reduce((sum, p) => sum + p.done, 0);
      break;
    }
    await sleep(10);
  }
  child.kill("SIGKILL");
  await finish(child);
  return done;
}

Deno.test("a pull after the origin's file changed starts over on several connections and says why (--json)", async () => {
  const v1 = randomModel(24 * MIB);
  const v2 = randomModel(24 * MIB);
  const origin = changingOrigin({ body: v1, etag: '"v1"' });
  await withEngine({ "/m.gguf": origin.route }, async (w) => {
    const url = `${w.origin.url}/m.gguf`;
    const kept = await killHalfway(w, url);
    assert.ok(kept > 0, "the first pull kept bytes");
    origin.state.version = { body: v2, etag: '"v2"' };
    origin.state.slow = false;
    const from = w.origin.requests.length;

    const r = await w.lode(["pull", url, "--name", "m", "--connections", "4", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const restarted = r.events.filter((e) => e.event === "file_restarted");
    assert.equal(restarted.length, 1, r.stdout);
    assert.equal(restarted[0]!.reason, "validator_changed");
    assert.equal(restarted[0]!.url, url);
    assert.equal(restarted[0]!.filename, "m.gguf");
    assert.deepEqual(restarted[0]!.previous, { validator: '"v1"', size_bytes: v1.length });
    assert.deepEqual(restarted[0]!.current, { validator: '"v2"', size_bytes: v2.length });
    assert.ok(Number(restarted[0]!.discarded_bytes) >= kept, r.stdout);
    const completed = r.events.find((e) => e.event === "completed");
    assert.equal(completed?.blob, `sha256:${sha256(v2)}`);
    assert.deepEqual(
      await Deno.readFile(`${w.store}/blobs/sha256/${sha256(v2).slice(0, 2)}/${sha256(v2)}/data`),
      v2,
    );

    // After the refused resume (If-Range "v1", answered with the whole new file and dropped), the new
    // version is fetched in ranges on several connections.
    const gets = getsOf(w.origin, "/m.gguf", from);
    assert.equal(gets[0]?.headers["if-range"], '"v1"');
    const fresh = gets.slice(1);
    assert.equal(rangeBytes(fresh), v2.length, "the new version asked for in ranges, once");
    assert.ok(fresh.length >= 4, `${fresh.length} ranged GETs`);
    const connections = new Set(fresh.map((g) => g.connection));
    assert.ok(connections.size >= 2, `${connections.size} connection(s)`);
  });
});

Deno.test("a pull after the origin's file changed says why in one line on the terminal", async () => {
  const v1 = randomModel(24 * MIB);
  const v2 = randomModel(24 * MIB + 4096);
  const origin = changingOrigin({ body: v1, etag: '"v1"' });
  await withEngine({ "/m.gguf": origin.route }, async (w) => {
    const url = `${w.origin.url}/m.gguf`;
    await killHalfway(w, url);
    origin.state.version = { body: v2, etag: '"v2"' };
    origin.state.slow = false;
    const r = await w.lode(["pull", url, "--name", "m", "--connections", "4"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stderr.split("\n").filter((l) => l.includes("starting it over"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^m\.gguf: the origin's file changed since the last pull \("v1" -> "v2"\): starting it over; .+ already fetched are discarded$/,
    );
  });
});

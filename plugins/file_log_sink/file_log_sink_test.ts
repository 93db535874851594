import assert from "node:assert/strict";
import { Envelope, type EnvelopeOf } from "../../src/events/envelope.ts";
import { EventStream } from "../../src/events/event_stream.ts";
import { attachSinks } from "../../src/plugin/sink_runner.ts";
import { createFileLogSink } from "./file_log_sink.ts";

function envelope(seq: number, what = `m${seq}`): EnvelopeOf<"download"> {
  return {
    v: 1,
    seq,
    time: 1_765_000_000_000,
    source: "download",
    event: { event: "waiting", reason: "lock", what },
  };
}

async function withDir(t: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-filelog-" });
  try {
    await t(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The records of a log file; every line must be a whole envelope. */
async function records(path: string): Promise<Envelope[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text === "" || text.endsWith("\n"), `${path} ends with a whole line`);
  return text.split("\n").filter((l) => l !== "").map((l) => Envelope.parse(JSON.parse(l)));
}

Deno.test("file log: one NDJSON envelope per event, each with its version, through the sink runner", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/events.ndjson`;
    const stream = new EventStream();
    const attached = attachSinks(stream, [await createFileLogSink({ path })], { bufferSize: 10_000 });
    for (let i = 0; i < 5000; i++) stream.publish("download", envelope(i).event);
    await attached.close();
    const got = await records(path);
    assert.equal(got.length, 5000);
    assert.ok(got.every((r, i) => r.v === 1 && r.seq === i + 1));
  });
});

Deno.test("file log: rotation by size keeps N files, each within the bound, no line split", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/events.ndjson`;
    const sink = await createFileLogSink({ path, maxBytes: 4000, keep: 2, batchBytes: 1500 });
    for (let i = 1; i <= 400; i++) await sink.event(envelope(i));
    await sink.close();
    const names = [...Deno.readDirSync(dir)].map((f) => f.name).sort();
    assert.deepEqual(names, ["events.ndjson", "events.ndjson.1", "events.ndjson.2"]);
    const files = [`${path}.2`, `${path}.1`, path];
    const seqs: number[] = [];
    for (const f of files) {
      assert.ok((await Deno.stat(f)).size <= 4000, `${f} within max_bytes`);
      seqs.push(...(await records(f)).map((r) => r.seq));
    }
    // The newest events, contiguous up to the last one.
    assert.equal(seqs.at(-1), 400);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => 400 - seqs.length + 1 + i));
    assert.ok(sink.stats.rotations >= 3);
  });
});

Deno.test("file log: reopen after the file was moved writes to a new file (logrotate create)", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/events.ndjson`;
    const sink = await createFileLogSink({ path, reopenOnSighup: false });
    for (let i = 1; i <= 10; i++) sink.event(envelope(i));
    await new Promise((resolve) => setTimeout(resolve, 0));
    await sink.event(envelope(11)); // drains
    await Deno.rename(path, `${path}.old`);
    sink.event(envelope(12)); // still the old file until the reopen
    sink.reopen();
    for (let i = 13; i <= 20; i++) sink.event(envelope(i));
    await sink.close();
    const old = (await records(`${path}.old`)).map((r) => r.seq);
    const fresh = (await records(path)).map((r) => r.seq);
    assert.deepEqual([...old, ...fresh], Array.from({ length: 20 }, (_, i) => i + 1));
    assert.ok(fresh.length >= 8 && fresh.at(-1) === 20);
  });
});

Deno.test("file log: two sinks appending to one file never tear a line", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/events.ndjson`;
    const [a, b] = [
      await createFileLogSink({ path, batchBytes: 999 }),
      await createFileLogSink({ path, batchBytes: 1000 }),
    ];
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 3000; i++) {
      const long = "x".repeat(i % 200);
      writes.push(
        Promise.resolve(a.event(envelope(i, `a${long}`))),
        Promise.resolve(b.event(envelope(i, `b${long}`))),
      );
    }
    await Promise.all(writes);
    await Promise.all([a.close(), b.close()]);
    const got = await records(path);
    assert.equal(got.length, 6000);
  });
});

Deno.test("file log: a failed write is reported by the next event, with the sink carrying on", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/sub/events.ndjson`;
    await Deno.mkdir(`${dir}/sub`);
    // batchBytes 1: every event is written before its call returns.
    const sink = await createFileLogSink({
      path,
      maxBytes: 300,
      keep: 1,
      reopenOnSighup: false,
      batchBytes: 1,
    });
    await sink.event(envelope(1));
    await sink.event(envelope(2));
    await Deno.remove(`${dir}/sub`, { recursive: true }); // the rotation's reopen fails
    await sink.event(envelope(3));
    assert.throws(() => sink.event(envelope(4)), Deno.errors.NotFound);
    assert.equal(sink.stats.lost, 1);
    await Deno.mkdir(`${dir}/sub`);
    await sink.event(envelope(5));
    await sink.close();
    assert.deepEqual(
      (await records(path)).map((r) => r.seq),
      [4, 5],
      "writing resumes once the directory is back",
    );
  });
});

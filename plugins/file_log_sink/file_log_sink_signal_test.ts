import assert from "node:assert/strict";
import { createFileLogSink } from "./file_log_sink.ts";

// Sends SIGHUP to this process (needs --allow-run): a test with processes (scripts/test_plan.ts).
Deno.test("file log: SIGHUP reopens the file, as logrotate's create + postrotate kill -HUP expect", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-filelog-hup-" });
  try {
    const path = `${dir}/events.ndjson`;
    const sink = await createFileLogSink({ path, batchBytes: 1 });
    const event = (seq: number) =>
      sink.event({
        v: 1,
        seq,
        time: 0,
        source: "download",
        event: { event: "waiting", reason: "lock", what: "m" },
      });
    await event(1);
    await Deno.rename(path, `${path}.1`); // logrotate moves the file …
    await event(2); // … lines still go to the moved file until the signal
    Deno.kill(Deno.pid, "SIGHUP"); // postrotate
    while (!(await Deno.stat(path).then(() => true, () => false))) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await event(3);
    await sink.close();
    const seqs = async (p: string) =>
      (await Deno.readTextFile(p)).trim().split("\n").map((l) => JSON.parse(l).seq as number);
    assert.deepEqual(await seqs(`${path}.1`), [1, 2]);
    assert.deepEqual(await seqs(path), [3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

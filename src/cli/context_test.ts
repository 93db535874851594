import assert from "node:assert/strict";
import { makeTestCa } from "../../tests/support/test_ca.ts";
import { startOrigin } from "../../tests/support/origin.ts";
import { pullFiles } from "../download/pull_model.ts";
import { downloadPhases } from "../events/download_status.ts";
import { Envelope } from "../events/envelope.ts";
import type { StatusEvent } from "../events/status_event.ts";
import { createContext } from "./context.ts";
import { Output, type OutputStream } from "./output.ts";
import { pullRef } from "./pull_ref.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url);
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

/** An output stream that keeps what is written. */
function captured(): OutputStream & { text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    writeSync: (p) => (chunks.push(p.slice()), p.length),
    write: (p) => Promise.resolve((chunks.push(p.slice()), p.length)),
    isTerminal: () => false,
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
  };
}

Deno.test("a command's pull publishes each download event once on ctx.events; the --json lines are those events", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-ctx-events-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({
    tls: ca,
    routes: { "/m/stories260K.gguf": { body: await Deno.readFile(FIXTURE) } },
  });
  const stdout = captured();
  const stderr = captured();
  const output = new Output({ json: true, quiet: false, color: false, streams: { stdout, stderr } });
  const ctx = await createContext(
    { json: true, store: `${dir}/store`, caCert: [ca.caCertPath] },
    { HOME: dir, XDG_CONFIG_HOME: `${dir}/config` },
    output,
  );
  const seen: Envelope[] = [];
  ctx.events.listen((e) => seen.push(e));
  ctx.events.listen(() => {
    throw new Error("a broken listener");
  });
  const late = ctx.events.subscribe({ bufferSize: 2 });
  try {
    const result = await pullRef(ctx, `${origin.url}/m/stories260K.gguf#sha256=${SHA}`, {});
    assert.equal(result.sha256, SHA);
  } finally {
    await ctx.dispose();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
  const downloads = seen.filter((e) => e.source === "download");
  assert.deepEqual(downloads.map((e) => e.seq), seen.map((_, i) => i + 1));
  assert.deepEqual(downloads.map((e) => e.event.event).filter((k) => k !== "file_progress"), [
    "started",
    "file_started",
    "file_completed",
    "completed",
  ]);
  for (const e of seen) Envelope.parse(e);
  // stdout holds exactly the events, one JSON line each, in order: nothing added, nothing lost.
  assert.equal(stdout.text(), downloads.map((e) => JSON.stringify(e.event) + "\n").join(""));
  const errors = stderr.text().split("\n").filter((l) => l !== "");
  assert.equal(errors.length, seen.length);
  assert.ok(errors.every((l) => l === "lode: an event listener failed: Error: a broken listener"), errors[0]);
  // The reader that never read kept its first two and counted the rest.
  assert.equal(late.buffered, 2);
  assert.equal(late.dropped, seen.length - 2);
  late.close();
});

Deno.test("downloadPhases: a pull's `download` status phases come from its file_progress events alone, with the file's URL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-ctx-phases-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const bytes = await Deno.readFile(FIXTURE);
  const origin = await startOrigin({ tls: ca, routes: { "/m/a.gguf": { body: bytes } } });
  const output = new Output({
    json: true,
    quiet: false,
    color: false,
    streams: { stdout: captured(), stderr: captured() },
  });
  const ctx = await createContext(
    { json: true, store: `${dir}/store`, caCert: [ca.caCertPath] },
    { HOME: dir, XDG_CONFIG_HOME: `${dir}/config` },
    output,
  );
  const direct: StatusEvent[] = [];
  const derived: StatusEvent[] = [];
  try {
    const url = `${origin.url}/m/a.gguf`;
    const pull = await ctx.pullContext([url]);
    await pullFiles({
      name: "a",
      files: [{ role: "model", filename: "a.gguf", url, sha256: SHA }],
      source: { registry: "url", repo: url, revision: SHA, filename: "a.gguf", url },
    }, {
      ...pull,
      progressIntervalMs: 0,
      emit: downloadPhases((s) => derived.push(s)),
      emitStatus: (s) => direct.push(s),
    });
  } finally {
    await ctx.dispose();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
  // The download layer reports a file's progress once, as download events: no `download` phase of its own.
  assert.deepEqual(direct.filter((s) => s.status === "loading_model" && s.phase === "download"), []);
  assert.ok(derived.length >= 2);
  for (const s of derived) {
    assert.ok(s.status === "loading_model" && s.phase === "download");
    assert.equal(s.source_url, `${origin.url}/m/a.gguf`);
  }
  const last = derived.at(-1)!;
  assert.ok(last.status === "loading_model" && last.phase === "download");
  assert.equal(last.downloaded_bytes, bytes.length);
  assert.equal(last.total_bytes, bytes.length);
});

import assert from "node:assert/strict";
import { makeTestCa } from "../../tests/support/test_ca.ts";
import { startOrigin } from "../../tests/support/origin.ts";
import { toLodeError } from "../errors.ts";
import { Envelope, type EventSource } from "../events/envelope.ts";
import { parseArgv } from "./args.ts";
import { type CommonFlags, createContext } from "./context.ts";
import { Output, type OutputStream } from "./output.ts";
import { COMMANDS, PROGRAM } from "./program.ts";

const FIXTURE = new URL("../../tests/fixtures/stories260K.gguf", import.meta.url).pathname;

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

interface Ran {
  stdout: string;
  stderr: string;
  /** Every envelope the command's stream delivered to a subscriber, in order. */
  seen: Envelope[];
}

/**
 * Runs `argv` in this process as `runCli` does — its context, its command, a failure reported through
 * the context — with a subscriber listening on the command's stream.
 */
async function lode(dir: string, argv: string[]): Promise<Ran> {
  const parsed = parseArgv(argv, PROGRAM);
  const stdout = captured();
  const stderr = captured();
  const output = new Output({
    json: parsed.options.json === true,
    quiet: false,
    color: false,
    streams: { stdout, stderr },
  });
  const ctx = await createContext(
    { ...parsed.options, store: `${dir}/store` } as CommonFlags,
    { HOME: dir, XDG_CONFIG_HOME: `${dir}/config` },
    output,
  );
  const seen: Envelope[] = [];
  ctx.events.listen((e) => seen.push(e));
  try {
    await (await COMMANDS[parsed.command!.name]!()).run(ctx, parsed);
  } catch (e) {
    ctx.error(toLodeError(e));
  } finally {
    await ctx.dispose();
  }
  return { stdout: stdout.text(), stderr: stderr.text(), seen };
}

/** Every `--json` line came through the stream: stdout is its events, one line each, in order. */
function assertPrintedFromStream(ran: Ran, sources: EventSource[]): void {
  for (const e of ran.seen) Envelope.parse(e);
  assert.deepEqual(ran.seen.map((e) => e.seq), ran.seen.map((_, i) => i + 1));
  assert.equal(ran.stdout, ran.seen.map((e) => JSON.stringify(e.event) + "\n").join(""), ran.stderr);
  assert.deepEqual([...new Set(ran.seen.map((e) => e.source))].sort(), [...sources].sort());
}

const kinds = (ran: Ran) => ran.seen.map((e) => `${e.source}:${e.event.event}`);

Deno.test("every --json line of lode import/ls/verify/sync/run/rm/gc is an event of the command's stream, with its source", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-command-stream-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({
    tls: ca,
    routes: { "/m/other.gguf": { body: await Deno.readFile(FIXTURE) } },
  });
  try {
    const imported = await lode(dir, ["import", FIXTURE, "--name", "stories", "--json"]);
    assertPrintedFromStream(imported, ["store"]);
    assert.deepEqual(kinds(imported), ["store:imported"]);

    const ls = await lode(dir, ["ls", "--json"]);
    assertPrintedFromStream(ls, ["store"]);
    assert.deepEqual(kinds(ls), ["store:model"]);

    const verify = await lode(dir, ["verify", "--all", "--json"]);
    assertPrintedFromStream(verify, ["store"]);
    assert.deepEqual(kinds(verify), ["store:verified", "store:verify_done"]);

    // A sync that pins and pulls: the pull's download events and the lock events, on one stream.
    const url = `${origin.url}/m/other.gguf`;
    const lockfile = `${dir}/lode.lock`;
    await Deno.writeTextFile(
      lockfile,
      JSON.stringify({
        lockfile_version: 1,
        models: [{
          name: "other",
          reference: url,
          registry: "x",
          repo: "",
          revision: "",
          files: [{ role: "model", filename: "other.gguf", url }],
        }],
      }),
    );
    const sync = await lode(dir, ["sync", "--lockfile", lockfile, "--ca-cert", ca.caCertPath, "--json"]);
    assertPrintedFromStream(sync, ["download", "lock"]);
    assert.ok(kinds(sync).includes("download:completed"), kinds(sync).join());
    assert.equal(kinds(sync).at(-1), "lock:sync_completed");

    const run = await lode(dir, [
      "run",
      `file:${FIXTURE}`,
      "Once upon a time",
      "-t",
      "0",
      "-n",
      "5",
      "--threads",
      "1",
      "--no-daemon",
      "--json",
    ]);
    assertPrintedFromStream(run, ["inference"]);
    assert.deepEqual(kinds(run).filter((k) => k !== "inference:token").slice(-1), ["inference:done"]);
    assert.ok(kinds(run).includes("inference:status"), "the load's status lines are inference events");

    const rm = await lode(dir, ["rm", "stories", "--json"]);
    assertPrintedFromStream(rm, ["store"]);
    assert.deepEqual(kinds(rm), ["store:removed"]);

    const gc = await lode(dir, ["gc", "--older-than", "0s", "--json"]);
    assertPrintedFromStream(gc, ["store"]);
    assert.equal(kinds(gc).at(-1), "store:gc_done");

    // A failure is one `error` event of source `cli`, printed from the stream like the rest.
    const missing = await lode(dir, ["rm", "stories", "--json"]);
    assertPrintedFromStream(missing, ["cli"]);
    assert.deepEqual(kinds(missing), ["cli:error"]);
    assert.equal(JSON.parse(missing.stdout).code, "MODEL_NOT_FOUND");

    // Without --json the stream carries the same events (a subscriber sees them); stdout is for people.
    const people = await lode(dir, ["ls"]);
    assert.deepEqual(kinds(people), ["store:model"]);
    assert.match(people.stdout, /^NAME\s+SIZE/);
  } finally {
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

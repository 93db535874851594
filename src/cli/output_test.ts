import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { Output, OutputClosed, type OutputStream } from "./output.ts";

/** A stream that keeps what it is given until `closed`, then fails as a pipe without a reader does. */
function pipe() {
  const decoder = new TextDecoder();
  const stream = {
    text: "",
    closed: false,
    writes: 0,
    isTerminal: () => false,
    writeSync(p: Uint8Array): number {
      stream.writes++;
      if (stream.closed) throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
      // Half a chunk at a time: the printer writes until everything is out.
      const n = Math.max(1, Math.ceil(p.length / 2));
      stream.text += decoder.decode(p.subarray(0, n));
      return n;
    },
    write(p: Uint8Array): Promise<number> {
      return Promise.resolve().then(() => stream.writeSync(p));
    },
  };
  return stream satisfies OutputStream;
}

Deno.test("Output: a closed stdout is one condition: the signal aborts, this and every later write throw OutputClosed", async () => {
  const [stdout, stderr] = [pipe(), pipe()];
  const out = new Output({ json: true, quiet: false, color: false, streams: { stdout, stderr } });
  out.event({ event: "token", text: "Once" });
  assert.equal(stdout.text, '{"event":"token","text":"Once"}\n');
  assert.equal(out.closed.aborted, false);

  stdout.closed = true;
  assert.throws(() => out.event({ event: "token", text: " upon" }), OutputClosed);
  assert.ok(out.closed.aborted);
  assert.ok(out.closed.reason instanceof OutputClosed);
  assert.equal((out.closed.reason as OutputClosed).output, "stdout");
  // stderr is open, yet nothing more is printed anywhere: the command is stopping.
  const before = stderr.writes;
  assert.throws(() => out.stderr("progress"), OutputClosed);
  assert.throws(() => out.text("late"), OutputClosed);
  await assert.rejects(out.bytes(new Uint8Array([1])), OutputClosed);
  assert.equal(stderr.writes, before);
});

Deno.test("Output: a closed stderr closes the output too; sink() drops writes instead of throwing", async () => {
  const [stdout, stderr] = [pipe(), pipe()];
  const out = new Output({ json: false, quiet: false, color: false, streams: { stdout, stderr } });
  const note = out.sink((line: string) => out.note(line));
  note("downloading m.gguf");
  assert.equal(stderr.text, "downloading m.gguf\n");
  stderr.closed = true;
  note("waiting: another lode process holds the lock");
  assert.ok(out.closed.aborted);
  assert.equal((out.closed.reason as OutputClosed).output, "stderr");
  assert.doesNotThrow(() => note("more"));
  assert.throws(() => out.result("m  sha256:…"), OutputClosed);
  assert.throws(() => out.error(new LodeError("IO", "late")), OutputClosed);
  // A failure that is not a closed pipe stays what it is, in a sink too.
  const failing = new Output({
    json: false,
    quiet: false,
    color: false,
    streams: {
      stdout,
      stderr: {
        ...pipe(),
        writeSync: () => {
          throw new Deno.errors.PermissionDenied("no");
        },
      },
    },
  });
  assert.throws(() => failing.sink((s: string) => failing.note(s))("x"), Deno.errors.PermissionDenied);
  assert.equal(failing.closed.aborted, false);
  // Bytes (`lode export NAME -`) meet the same condition.
  const gone = pipe();
  gone.closed = true;
  const bytes = new Output({ json: false, quiet: false, color: false, streams: { stdout: gone, stderr } });
  await assert.rejects(bytes.bytes(new Uint8Array([1])), OutputClosed);
  assert.ok(bytes.closed.aborted);
});

Deno.test("Output: an event object is printed once; eventsTo sends the --json lines to stderr; error() is for people only", () => {
  const [stdout, stderr] = [pipe(), pipe()];
  const out = new Output({ json: true, quiet: false, color: false, streams: { stdout, stderr } });
  const token = { event: "token", text: "Once" };
  out.event(token);
  out.event(token);
  out.event({ ...token });
  assert.equal(stdout.text, '{"event":"token","text":"Once"}\n'.repeat(2));
  out.error(new LodeError("IO", "with --json the error is an event of the command's stream"));
  assert.equal(stderr.text, "");
  out.eventsTo = "stderr";
  out.event({ event: "exported", name: "m" });
  assert.equal(stderr.text, '{"event":"exported","name":"m"}\n');
  const text = new Output({ json: false, quiet: false, color: false, streams: { stdout, stderr: pipe() } });
  text.event(token);
  assert.equal(stdout.text, '{"event":"token","text":"Once"}\n'.repeat(2));
});

/**
 * `lode push` as a model-push job against a real registry (Debian's docker-registry on loopback, TLS,
 * htpasswd Basic auth): recorded (`lode job ls`), SIGKILLed mid-upload and resumed by the same push
 * again from the bytes the registry has, cancelled by SIGINT (its record `cancelled`, its upload kept
 * for the next push). The model is a generated 96 MiB GGUF, six chunks of 16 MiB (LODE_PUSH_CHUNK_BYTES).
 */
import assert from "node:assert/strict";
import { ociRegistryMissing } from "./support/oci_registry.ts";
import { CREDS, withRegistry, type World } from "./support/oci_world.ts";
import { spawnLode } from "./support/lode_cli.ts";
import { writeGgufModel } from "../scripts/gen_gguf.ts";

const missing = await ociRegistryMissing();
if (missing) console.log(`skipped: oci_push_job_test.ts: ${missing}`);

const CHUNK = 16 * 1024 * 1024;
/** Pushes in chunks of 16 MiB (the default is 64 MiB). */
const CHUNKS = { LODE_PUSH_CHUNK_BYTES: String(CHUNK) };

/** A generated model of `size` bytes imported as `name`; its digest. */
async function importBig(w: World, name: string, size: number): Promise<{ digest: string; size: number }> {
  const made = await writeGgufModel(`${w.dir}/${name}.gguf`, { sizeBytes: size, tensorType: "f32" });
  const imported = await w.lode(["import", made.path, "--name", name]);
  assert.equal(imported.code, 0, imported.stderr);
  await Deno.remove(made.path);
  return { digest: `sha256:${made.sha256}`, size: made.sizeBytes };
}

/**
 * Starts `lode ARGS --json` (a push, or a job resume), reads its events until one `push_progress` of
 * `digest` short of the end, then sends `signal`; the events read and the exit code.
 */
async function runUntilProgress(
  w: World,
  args: string[],
  digest: string,
  signal: Deno.Signal,
): Promise<{ code: number; events: Record<string, unknown>[] }> {
  const child = spawnLode(["--ca-cert", w.reg.ca.caCertPath, ...args, "--json"], {
    store: w.store,
    env: { DOCKER_CONFIG: `${w.dir}/docker`, ...CREDS, ...CHUNKS },
  });
  const events: Record<string, unknown>[] = [];
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let sent = false;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith("{")) continue;
      const e = JSON.parse(line);
      events.push(e);
      if (e.event === "push_progress" && e.digest === digest && e.done_bytes < e.total_bytes && !sent) {
        child.kill(signal);
        sent = true;
      }
    }
  }
  const { code } = await child.status;
  assert.ok(sent, `the push ended before a progress event: ${await stderr}`);
  return { code, events };
}

Deno.test({
  name:
    "oci push job: SIGKILLed mid-upload, `lode job ls` shows it interrupted; the same push resumes that job",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async (w) => {
      const { lode, reg } = w;
      const big = await importBig(w, "big", 6 * CHUNK);
      const ref = `oci://${reg.host}/team/big:v1`;
      const killed = await runUntilProgress(w, ["push", "big", ref], big.digest, "SIGKILL");
      assert.ok(!killed.events.some((e) => e.event === "pushed"), "the push ended before the kill");
      const started = killed.events.find((e) => e.event === "push_started")!;
      assert.ok(Number(started.total_bytes) > big.size); // the model and its config
      assert.equal(started.format, "modelpack");

      const ls = await lode(["job", "ls", "--json"]);
      const jobs = ls.events.filter((e) => e.event === "job");
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0]!.kind, "model-push");
      assert.equal(jobs[0]!.state, "interrupted");
      const id = jobs[0]!.id as string;

      // `lode job resume ID` takes it up, and is killed in turn.
      const resumed = await runUntilProgress(w, ["job", "resume", id], big.digest, "SIGKILL");
      const from = resumed.events.find((e) => e.event === "push_progress")!;
      assert.ok(Number(from.done_bytes) >= CHUNK, `job resume went on at ${from.done_bytes}`);

      const again = await lode(["push", "big", ref, "--json"], { ...CREDS, ...CHUNKS });
      assert.equal(again.code, 0, again.stdout + again.stderr);
      const first = again.events.find((e) => e.event === "push_progress" && e.digest === big.digest)!;
      assert.ok(Number(first.done_bytes) >= CHUNK, `resumed at ${first.done_bytes}`);
      const pushed = again.events.find((e) => e.event === "pushed")!;
      assert.ok(Number(pushed.bytes_uploaded) > 0);
      const job = again.events.filter((e) => e.event === "job").at(-1)!;
      assert.equal(job.id, id);
      assert.equal(job.state, "succeeded");
      assert.equal(job.attempts, 3);
      const progress = job.progress as { unit: string; done: number; total: number };
      assert.equal(progress.unit, "bytes");
      assert.equal(progress.done, progress.total);
      const stored = await Deno.stat(reg.blobPath(big.digest));
      assert.equal(stored.size, big.size);
      // The registry's bytes hash to the digest (distribution checked it at the PUT); nothing left over.
      assert.deepEqual(await Array.fromAsync(Deno.readDir(`${w.store}/locks/uploads`)), []);
      const after = await lode(["job", "ls", "--json"]);
      assert.deepEqual(after.events.filter((e) => e.event === "job").map((e) => e.state), ["succeeded"]);
    }),
});

Deno.test({
  name: "oci push job: SIGINT cancels it (record cancelled, exit code of CANCELLED); the next push goes on",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async (w) => {
      const { lode, reg } = w;
      const big = await importBig(w, "big", 6 * CHUNK);
      const ref = `oci://${reg.host}/team/big:v2`;
      const cancelled = await runUntilProgress(w, ["push", "big", ref], big.digest, "SIGINT");
      assert.notEqual(cancelled.code, 0);
      const job = cancelled.events.filter((e) => e.event === "job_state").at(-1)!;
      assert.equal(job.state, "cancelled");
      const next = await lode(["push", "big", ref, "--json"], { ...CREDS, ...CHUNKS });
      assert.equal(next.code, 0, next.stdout + next.stderr);
      const first = next.events.find((e) => e.event === "push_progress" && e.digest === big.digest)!;
      assert.ok(Number(first.done_bytes) >= CHUNK, `went on at ${first.done_bytes}`);
      const ls = await lode(["job", "ls", "--json"]);
      assert.deepEqual(ls.events.filter((e) => e.event === "job").map((e) => e.state), [
        "cancelled",
        "succeeded",
      ]);
    }),
});

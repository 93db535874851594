/**
 * `lode job` through real CLI processes: external-command jobs running real scripts (succeeding, failing,
 * missing), `ls` and `show` with --json, a running job cancelled from another process, a job whose
 * process was killed shown as interrupted, and bad specs and kinds refused with their typed errors.
 */
import assert from "node:assert/strict";
import { JobEvent } from "../src/events/job_event.ts";
import { JobRecord } from "../src/jobs/job_record.ts";
import { summaryOf } from "../src/jobs/job_index.ts";
import { runLode, spawnLode } from "./support/lode_cli.ts";
import { withTempDir } from "./support/temp_dir.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;

async function withStore(body: (dir: string, store: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    const r = await runLode(["import", FIXTURE, "--name", "stories260K", "-q"], { store });
    assert.equal(r.code, 0, r.stderr);
    await body(dir, store);
  }, { prefix: "lode-job-" });
}

const jobOf = (events: Record<string, unknown>[]) =>
  JobRecord.parse(events.findLast((e) => e.event === "job"));

async function script(dir: string, name: string, body: string): Promise<void> {
  await Deno.writeTextFile(`${dir}/${name}`, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(`${dir}/${name}`, 0o755);
}

Deno.test("an external-command job runs a real script given the model's path; ls and show read its record", async () => {
  await withStore(async (dir, store) => {
    await script(dir, "ok.sh", 'echo "arg=$1"; echo "env=$LODE_MODEL_PATH"; echo warn >&2');
    const spec = JSON.stringify({ model: "stories260K", command: "./ok.sh", args: ["{model}"] });
    const r = await runLode(["job", "run", "model-external-command", "--spec", spec, "--json"], {
      store,
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    for (const e of r.events.filter((e) => e.event !== "job")) JobEvent.parse(e);
    const job = jobOf(r.events);
    assert.equal(job.state, "succeeded");
    const path = (job.result as { model_path: string }).model_path;
    const stdout = job.artifacts.find((a) => a.id === "stdout")!;
    assert.equal(await Deno.readTextFile(stdout.path), `arg=${path}\nenv=${path}\n`);
    assert.equal(stdout.path, `${store}/jobs/${job.id}/stdout.txt`);
    assert.match(stdout.sha256!, /^[0-9a-f]{64}$/);

    const ls = await runLode(["job", "ls", "--json"], { store });
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(ls.events, [{ event: "job", ...summaryOf(job) }]);
    const show = await runLode(["job", "show", job.id, "--json"], { store });
    assert.deepEqual(jobOf(show.events), job);
    const text = await runLode(["job", "show", job.id], { store });
    assert.match(text.stdout, /state: +succeeded/);
    const events = (await Deno.readTextFile(`${store}/jobs/${job.id}/events.ndjson`)).trim().split("\n");
    assert.deepEqual(events.map((l) => JobEvent.parse(JSON.parse(l)).event).at(-1), "job_state");
  });
});

Deno.test("a script that exits non-zero: EXTERNAL_COMMAND_FAILED (exit 10), its output kept; a missing one exit 3", async () => {
  await withStore(async (dir, store) => {
    await script(dir, "bad.sh", "echo partial; exit 7");
    const bad = await runLode(
      [
        "job",
        "run",
        "model-external-command",
        "--spec",
        '{"model":"stories260K","command":"./bad.sh"}',
        "--json",
      ],
      { store, cwd: dir },
    );
    assert.equal(bad.code, 10, bad.stderr);
    const error = bad.events.find((e) => e.event === "error")!;
    assert.equal(error.code, "EXTERNAL_COMMAND_FAILED");
    const job = jobOf(bad.events);
    assert.equal(job.state, "failed");
    assert.equal(job.error?.code, "EXTERNAL_COMMAND_FAILED");
    assert.equal(await Deno.readTextFile(job.artifacts.find((a) => a.id === "stdout")!.path), "partial\n");

    const missing = await runLode(
      ["job", "run", "model-external-command", "--spec", '{"model":"stories260K","command":"./absent.sh"}'],
      { store, cwd: dir },
    );
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /error\[EXTERNAL_COMMAND_NOT_FOUND\]/);
  });
});

/** Starts a long external-command job and waits until its program runs; returns the child and the job id. */
async function startLongJob(
  dir: string,
  store: string,
  seconds: number,
  program: { command: string; args?: string[] } = { command: "sleep", args: [String(seconds)] },
) {
  const spec = JSON.stringify({ model: "stories260K", ...program });
  const child = spawnLode(["job", "run", "model-external-command", "--spec", spec, "--json"], {
    store,
    cwd: dir,
  });
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let read = "";
  let id: string | undefined;
  while (true) {
    const chunk = await reader.read();
    assert.ok(!chunk.done, `the job ended early: ${read}`);
    read += chunk.value;
    const lines = read.split("\n").filter((l) => l.startsWith("{")).map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return null;
      }
    });
    const running = lines.find((e) => e?.event === "job_progress" && e.progress.done === 1);
    if (running) {
      id = running.id;
      break;
    }
  }
  const rest = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return { child, id: id!, rest };
}

Deno.test("a running job cancelled from another process: SIGTERM, its record says cancelled", async () => {
  await withStore(async (dir, store) => {
    const { child, id, rest } = await startLongJob(dir, store, 60);
    const cancel = await runLode(["job", "cancel", id, "--json"], { store });
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(jobOf(cancel.events).state, "cancelled");
    const status = await child.status;
    await rest;
    await child.stderr.cancel();
    assert.equal(status.code, 130);
    const show = await runLode(["job", "show", id, "--json"], { store });
    assert.equal(jobOf(show.events).error?.code, "CANCELLED");

    const again = await runLode(["job", "cancel", id], { store });
    assert.equal(again.code, 6, again.stderr);
    assert.match(again.stderr, /error\[JOB_FINISHED\]/);
  });
});

Deno.test("cancel of a job whose process ignores SIGTERM: JOB_CANCEL_TIMEOUT after --timeout naming its pid", async () => {
  await withStore(async (dir, store) => {
    // The program ignores SIGTERM, so the job's process waits for it and never records `cancelled`.
    await script(dir, "stubborn.sh", `trap '' TERM\necho $$ > stubborn.pid\nwhile :; do sleep 0.1; done`);
    const { child, id, rest } = await startLongJob(dir, store, 0, { command: "./stubborn.sh" });
    try {
      const cancel = await runLode(["job", "cancel", id, "--timeout", "1s", "--json"], { store });
      assert.equal(cancel.code, 6, cancel.stderr);
      const error = cancel.events.find((e) => e.event === "error") as Record<string, unknown>;
      assert.equal(error.code, "JOB_CANCEL_TIMEOUT");
      assert.match(String(error.message), new RegExp(`pid ${child.pid}\\b`));
      assert.match(String(error.hint), new RegExp(`kill -9 ${child.pid}\\b.*interrupted`));
      assert.deepEqual((error.details as Record<string, unknown>).pid, child.pid);
      assert.equal(jobOf((await runLode(["job", "show", id, "--json"], { store })).events).state, "running");

      // As the hint says: kill -9, and the job reads interrupted.
      child.kill("SIGKILL");
      await child.status;
      assert.equal(
        jobOf((await runLode(["job", "show", id, "--json"], { store })).events).state,
        "interrupted",
      );
      const bad = await runLode(["job", "cancel", id, "--timeout", "soon"], { store });
      assert.equal(bad.code, 2, bad.stderr);
    } finally {
      const kill = (f: () => void) => {
        try {
          f();
        } catch { /* already gone */ }
      };
      kill(() => child.kill("SIGKILL"));
      await child.status;
      await rest;
      await child.stderr.cancel();
      const pid = Number(await Deno.readTextFile(`${dir}/stubborn.pid`).catch(() => "0"));
      if (pid > 0) kill(() => Deno.kill(pid, "SIGKILL"));
    }
  });
});

Deno.test("a job whose process was killed reads as interrupted; resume refuses a kind that starts over", async () => {
  await withStore(async (dir, store) => {
    const { child, id, rest } = await startLongJob(dir, store, 2);
    child.kill("SIGKILL");
    await child.status;
    await rest;
    await child.stderr.cancel();
    const ls = await runLode(["job", "ls", "--json"], { store });
    assert.equal(ls.events[0]!.state, "interrupted");
    const resume = await runLode(["job", "resume", id], { store });
    assert.equal(resume.code, 6, resume.stderr);
    assert.match(resume.stderr, /error\[JOB_NOT_RESUMABLE\]/);
    const cancel = await runLode(["job", "cancel", id, "--json"], { store });
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(jobOf(cancel.events).state, "cancelled");
  });
});

Deno.test("bad input: a spec path with `..`, an unknown kind, an unknown id, a spec that is not JSON", async () => {
  await withStore(async (dir, store) => {
    const before = [...Deno.readDirSync(store)].map((e) => e.name).sort();
    const cases: [string[], number, string][] = [
      [
        ["job", "run", "model-materialize-bundle", "--spec", '{"model":"stories260K","target":"../x"}'],
        2,
        "JOB_SPEC_INVALID",
      ],
      [
        ["job", "plan", "model-materialize-bundle", "--spec", '{"model":"stories260K","target":"/x"}'],
        2,
        "JOB_SPEC_INVALID",
      ],
      [["job", "run", "model-teleport"], 2, "JOB_KIND_UNKNOWN"],
      [["job", "show", "0000-none"], 3, "JOB_NOT_FOUND"],
      [["job", "plan", "model-validate-bundle", "--spec", "{model"], 2, "JOB_SPEC_INVALID"],
    ];
    for (const [args, code, error] of cases) {
      const r = await runLode([...args, "--json"], { store, cwd: dir });
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.events.find((e) => e.event === "error")?.code, error, args.join(" "));
    }
    // Refused before any record was written.
    assert.deepEqual([...Deno.readDirSync(store)].map((e) => e.name).sort(), before);
  });
});

Deno.test("materialize through the CLI: the model's file under its name in a relative directory", async () => {
  await withStore(async (dir, store) => {
    const spec = '{"model":"stories260K","target":"out/models","mode":"copy"}';
    const r = await runLode(["job", "run", "model-materialize-bundle", "--spec", spec], { store, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await Deno.readFile(`${dir}/out/models/stories260K.gguf`), await Deno.readFile(FIXTURE));
  });
});

Deno.test("watch from another process: every event of the job, in order, to its end", async () => {
  await withStore(async (dir, store) => {
    const { child, id, rest } = await startLongJob(dir, store, 1);
    const watch = await runLode(["job", "watch", id, "--json"], { store });
    assert.equal(watch.code, 0, watch.stderr);
    await child.status;
    await rest;
    await child.stderr.cancel();
    const lines = (await Deno.readTextFile(`${store}/jobs/${id}/events.ndjson`)).trim().split("\n");
    assert.deepEqual(watch.events.slice(0, -1), lines.map((l) => JSON.parse(l)));
    assert.equal(jobOf(watch.events).state, "succeeded");
    const unknown = await runLode(["job", "watch", "0000-none"], { store });
    assert.equal(unknown.code, 3, unknown.stderr);
    assert.match(unknown.stderr, /error\[JOB_NOT_FOUND\]/);
  });
});

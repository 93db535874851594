/**
 * Input that breaks its schema, through the real CLI and the real daemon: the config file, the lockfile, a
 * manifest in the store, a bundle's index and a request frame are each reported one way — the file and
 * line (or the request), the field, what was expected and what was found; `--json` carries the same as
 * `details` (`file`, `line`, `field`, `issues`), never zod's own issue objects.
 */
import assert from "node:assert/strict";
import { encodeTarEntryHeader, tarEndOfArchive, tarPadding } from "../src/store/bundle_tar_header.ts";
import { listTree, type LodeRun, runLode } from "./support/lode_cli.ts";
import { FrameClient, terminal } from "./support/frame_client.ts";
import { startServe, STORIES_FILE } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

interface Issue {
  path: string;
  line?: number;
  expected: string;
  received: string;
  message: string;
}

/** No zod dump anywhere in the output: no issue array, no zod issue codes. */
function assertNoZod(text: string): void {
  assert.doesNotMatch(
    text,
    /"code":\s*"invalid_type"|invalid_type|unrecognized_keys|"received":\s*"number"/,
    text,
  );
  assert.doesNotMatch(text, /Expected string, received|Unrecognized key|Required/, text);
}

function errorEvent(r: LodeRun): Record<string, unknown> & { details: Record<string, unknown> } {
  const e = r.events.find((e) => e.event === "error");
  assert.ok(e, `no error event: ${r.stdout} ${r.stderr}`);
  return e as Record<string, unknown> & { details: Record<string, unknown> };
}

function issuesOf(details: Record<string, unknown>): Issue[] {
  const issues = details.issues as Issue[];
  assert.ok(Array.isArray(issues) && issues.length > 0, JSON.stringify(details));
  for (const i of issues) {
    for (const key of ["path", "expected", "received", "message"] as const) {
      assert.equal(typeof i[key], "string", JSON.stringify(i));
    }
  }
  return issues;
}

Deno.test("a bad config file: CONFIG_INVALID naming the file, the line, the field, what was expected and found", async () => {
  await withTempDir(async (dir) => {
    const config = `${dir}/config.json`;
    const lode = (json: boolean) =>
      runLode(["ls", ...(json ? ["--json"] : [])], { store: `${dir}/store`, env: { LODE_CONFIG: config } });

    await Deno.writeTextFile(config, '{"store": 5}\n');
    const text = await lode(false);
    assert.equal(text.code, 2);
    assert.equal(
      text.stderr.split("\n")[0],
      `error[CONFIG_INVALID]: config file ${config} is invalid at line 1, store: expected a string, found 5`,
    );
    assert.match(text.stderr, /hint: .*docs\/configuration\.md/);
    assertNoZod(text.stderr);
    const json = await lode(true);
    assert.equal(json.code, 2);
    assertNoZod(json.stdout);
    const event = errorEvent(json);
    assert.equal(event.code, "CONFIG_INVALID");
    assert.deepEqual(event.details, {
      file: config,
      line: 1,
      field: "store",
      issues: [{
        path: "store",
        line: 1,
        expected: "a string",
        received: "5",
        message: "expected a string, found 5",
      }],
    });

    // A wrong type deep inside, and a misspelt field (the file is strict): one line per issue.
    await Deno.writeTextFile(
      config,
      '{\n  "allow_hosts": [\n    "mirror.example",\n    42\n  ],\n  "min_free_byte": 1\n}\n',
    );
    const deep = await lode(false);
    assert.equal(deep.code, 2);
    assertNoZod(deep.stderr);
    assert.deepEqual(deep.stderr.split("\n").slice(0, 3), [
      `error[CONFIG_INVALID]: config file ${config} is invalid (2 problems):`,
      "  line 4, allow_hosts[1]: expected a string, found 42",
      '  line 6, min_free_byte: unknown field; did you mean "min_free_bytes"? ' +
      "(known: store, allow_hosts, allow_http, ca_certs, min_free_bytes, sinks, allow_origins)",
    ]);
    const deepJson = errorEvent(await lode(true));
    assert.deepEqual(issuesOf(deepJson.details).map((i) => [i.path, i.line]), [["allow_hosts[1]", 4], [
      "min_free_byte",
      6,
    ]]);

    await Deno.writeTextFile(config, '{\n  "store": "/x",\n  "allow_http": [,]\n}\n');
    const syntax = await lode(false);
    assert.equal(syntax.code, 2);
    assert.match(syntax.stderr, new RegExp(`config file ${config} is not valid JSON at line 3`));
  });
});

Deno.test("a bad lockfile: LOCKFILE_INVALID naming the line, the model, the field, what was expected and found", async () => {
  await withTempDir(async (dir) => {
    const lockfile = `${dir}/lode.lock`;
    const sha = "ab".repeat(32);
    await Deno.writeTextFile(
      lockfile,
      JSON.stringify(
        {
          lockfile_version: 1,
          models: [{
            name: "tiny",
            reference: "https://example.com/t.gguf",
            registry: "example.com",
            repo: "",
            revision: "",
            files: [{
              role: "model",
              filename: "t.gguf",
              url: "https://example.com/t.gguf",
              sha256: sha,
              size: "9",
            }],
          }],
        },
        null,
        2,
      ),
    );
    const line = (await Deno.readTextFile(lockfile)).split("\n").findIndex((l) => l.includes('"size": "9"')) +
      1;
    assert.ok(line > 1);
    const lode = (json: boolean) =>
      runLode(["lock", "key", "--lockfile", lockfile, ...(json ? ["--json"] : [])], {
        store: `${dir}/store`,
      });
    const text = await lode(false);
    assert.equal(text.code, 2);
    assert.equal(
      text.stderr.split("\n")[0],
      `error[LOCKFILE_INVALID]: lockfile ${lockfile} is invalid at line ${line}, models[0] ("tiny").files[0].size: ` +
        'expected a number, found "9"',
    );
    assertNoZod(text.stderr);
    const event = errorEvent(await lode(true));
    assert.equal(event.code, "LOCKFILE_INVALID");
    assert.equal(event.details.file, lockfile);
    assert.equal(event.details.line, line);
    assert.equal(event.details.field, "models[0].files[0].size");
    assert.deepEqual(issuesOf(event.details), [{
      path: "models[0].files[0].size",
      line,
      expected: "a number",
      received: '"9"',
      message: 'expected a number, found "9"',
    }]);
  });
});

Deno.test("a damaged manifest: ls, verify and run name the file, the line, the field, what was expected and found", async () => {
  await withTempDir(async (dir) => {
    const store = `${dir}/store`;
    assert.equal((await runLode(["import", STORIES_FILE, "--name", "tiny"], { store })).code, 0);
    const path = `${store}/manifests/tiny.json`;
    const manifest = JSON.parse(await Deno.readTextFile(path));
    await Deno.writeTextFile(path, JSON.stringify({ ...manifest, size_bytes: "big" }, null, 2) + "\n");
    const line = (await Deno.readTextFile(path)).split("\n").findIndex((l) => l.includes('"big"')) + 1;
    const says = `manifest ${path} is invalid at line ${line}, size_bytes: expected a number, found "big"`;
    for (
      const args of [["ls"], ["verify", "tiny"], ["verify", "--all"], [
        "run",
        "tiny",
        "Once",
        "-n",
        "2",
        "--no-daemon",
      ]]
    ) {
      const r = await runLode(args, { store });
      assert.equal(r.code, 9, `${args.join(" ")}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`error[MANIFEST_INVALID]: ${says}\n`), `${args.join(" ")}: ${r.stderr}`);
      assertNoZod(r.stderr);
    }
    const expected = {
      file: path,
      line,
      field: "size_bytes",
      issues: [{
        path: "size_bytes",
        line,
        expected: "a number",
        received: '"big"',
        message: 'expected a number, found "big"',
      }],
    };
    const ls = await runLode(["ls", "--json"], { store });
    assertNoZod(ls.stdout);
    const problem = ls.events.find((e) => e.event === "problem")!;
    assert.equal(problem.code, "MANIFEST_INVALID");
    assert.deepEqual(problem.details, expected);
    const verify = await runLode(["verify", "--all", "--json"], { store });
    assert.equal(verify.code, 9);
    assert.deepEqual(errorEvent(verify).details, expected);
  });
});

Deno.test("a bad bundle index: BUNDLE_INVALID naming the index, the line, each field, what was expected and found; nothing added", async () => {
  await withTempDir(async (dir) => {
    const manifest = {
      schema_version: 1,
      name: "tiny",
      format: "gguf",
      blob: `sha256:${"ab".repeat(32)}`,
      size_bytes: 10,
      source: { registry: "file", repo: "", revision: "", filename: "tiny.gguf" },
      produced_by: "lode/0",
      produced_at: "2025-01-01T00:00:00Z",
    };
    const index = JSON.stringify(
      { lode_bundle: 1, manifest: { ...manifest, name: 7 }, blobs: [{ sha256: "xyz", size_bytes: 10 }] },
      null,
      2,
    );
    const bundle = `${dir}/bad.lode`;
    const data = new TextEncoder().encode(index);
    {
      using file = await Deno.open(bundle, { write: true, create: true, truncate: true });
      for (
        const part of [encodeTarEntryHeader({ path: "lode-bundle.json", size: data.length, mtime: 0 }), data]
      ) {
        await file.write(part);
      }
      await file.write(new Uint8Array(tarPadding(data.length)));
      await file.write(tarEndOfArchive());
    }
    const store = `${dir}/store`;
    const r = await runLode(["import", bundle], { store });
    assert.equal(r.code, 4, r.stderr);
    assertNoZod(r.stderr);
    const lines = index.split("\n");
    const at = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
    assert.deepEqual(r.stderr.split("\n").slice(0, 3), [
      `error[BUNDLE_INVALID]: ${bundle}: lode-bundle.json is invalid (2 problems):`,
      `  line ${at('"name": 7')}, manifest.name: expected a string, found 7`,
      `  line ${at('"xyz"')}, blobs[0].sha256: must be 64 lowercase hex digits, found "xyz"`,
    ]);
    const json = await runLode(["import", bundle, "--json"], { store });
    assertNoZod(json.stdout);
    const event = errorEvent(json);
    assert.equal(event.code, "BUNDLE_INVALID");
    assert.equal(event.details.file, `${bundle}:lode-bundle.json`);
    assert.deepEqual(issuesOf(event.details).map((i) => i.path), ["manifest.name", "blobs[0].sha256"]);
    assert.ok(!(await listTree(store).catch(() => [])).some((p) => p.startsWith("manifests/")));
  });
});

Deno.test("a bad request frame: BAD_REQUEST naming the field, what was expected and found, on the request's id", async () => {
  await withTempDir(async (dir) => {
    const daemon = await startServe(dir, `${dir}/store`);
    const client = await FrameClient.connect(daemon.socket);
    try {
      await client.write('{"id":"g","op":"generate","model":"m","prompt":5}\n');
      await client.write(
        '{"id":"c","op":"chat","model":"m","messages":[{"role":"robot","content":"hi"},{"role":"user"}]}\n',
      );
      const g = terminal(await client.frames("g"));
      assert.equal(g.code, "BAD_REQUEST");
      assert.equal(g.message, "generate request is invalid at prompt: expected a string, found 5");
      assert.deepEqual(g.details, {
        field: "prompt",
        issues: [{
          path: "prompt",
          expected: "a string",
          received: "5",
          message: "expected a string, found 5",
        }],
      });
      const c = terminal(await client.frames("c"));
      assert.equal(c.code, "BAD_REQUEST");
      assert.equal(
        c.message,
        "chat request is invalid (2 problems):\n" +
          '  messages[0].role: expected one of "system", "user", "assistant", "tool", found "robot"\n' +
          "  messages[1].content: missing (expected a string)",
      );
      assert.equal((c.details as Record<string, unknown>).field, "messages.0.role");
      assert.deepEqual(issuesOf(c.details as Record<string, unknown>).map((i) => i.path), [
        "messages[0].role",
        "messages[1].content",
      ]);
      assertNoZod(JSON.stringify(client.all));
    } finally {
      client.close();
      await daemon.stop();
    }
  });
});

import assert from "node:assert/strict";
import { isLodeError, type LodeError } from "../errors.ts";
import { lockKey } from "./cache_key.ts";
import {
  emptyLockfile,
  type LockEntry,
  lockfilePath,
  parseLockfile,
  readLockfile,
  readLockfileIfPresent,
  serializeLockfile,
  unpinnedFiles,
  withEntry,
  withoutEntry,
  writeLockfile,
} from "./lockfile.ts";
import { entryFromPlan, planFromEntry } from "./plan_entry.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

function entry(name: string, sha256 = SHA_A): LockEntry {
  return {
    name,
    reference: `https://h.test/${name}.gguf#sha256=${sha256}`,
    registry: "h.test",
    repo: "",
    revision: "",
    format: "gguf",
    license: null,
    files: [{
      role: "model",
      filename: `${name}.gguf`,
      url: `https://h.test/${name}.gguf`,
      sha256,
      size: 10,
    }],
  };
}

function rejects(text: string, pattern: RegExp): LodeError {
  try {
    parseLockfile(text, "lode.lock");
  } catch (e) {
    assert.ok(isLodeError(e, "LOCKFILE_INVALID"), String(e));
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail("parsed");
}

Deno.test("serialize: models sorted by name, fields in a fixed order, 2-space JSON with a newline", () => {
  const lock = withEntry(withEntry(emptyLockfile(), entry("zeta", SHA_B)), entry("alpha"));
  const text = serializeLockfile(lock);
  assert.ok(text.endsWith("}\n"));
  const parsed = JSON.parse(text);
  assert.deepEqual(parsed.models.map((m: LockEntry) => m.name), ["alpha", "zeta"]);
  assert.deepEqual(Object.keys(parsed), ["lockfile_version", "models"]);
  assert.deepEqual(Object.keys(parsed.models[0]), [
    "name",
    "reference",
    "registry",
    "repo",
    "revision",
    "format",
    "license",
    "files",
  ]);
  assert.deepEqual(Object.keys(parsed.models[0].files[0]), ["role", "filename", "url", "sha256", "size"]);
  assert.deepEqual(parseLockfile(text, "lode.lock"), lock);
  // Parsing a shuffled, reformatted file and writing it again gives the same text.
  const shuffled = JSON.stringify({
    models: [...parsed.models].reverse().map((m: LockEntry) =>
      Object.fromEntries(Object.entries(m).reverse())
    ),
    lockfile_version: 1,
  });
  assert.equal(serializeLockfile(parseLockfile(shuffled, "x")), text);
});

Deno.test("lock key: stable across whitespace, key order and model order; changes with any pin", () => {
  const lock = withEntry(withEntry(emptyLockfile(), entry("b")), entry("a"));
  const key = lockKey(lock);
  assert.match(key, /^lode-[0-9a-f]{64}$/);
  const text = serializeLockfile(lock);
  const reordered = JSON.parse(text);
  reordered.models.reverse();
  assert.equal(lockKey(parseLockfile(JSON.stringify(reordered), "x")), key);
  assert.notEqual(lockKey(withEntry(lock, entry("a", SHA_B))), key);
  assert.notEqual(lockKey(withoutEntry(lock, "b")), key);
});

Deno.test("withEntry replaces a same-named entry; withoutEntry removes it", () => {
  const lock = withEntry(withEntry(emptyLockfile(), entry("a")), entry("a", SHA_B));
  assert.equal(lock.models.length, 1);
  assert.equal(lock.models[0]!.files[0]!.sha256, SHA_B);
  assert.deepEqual(withoutEntry(lock, "a").models, []);
  assert.deepEqual(withoutEntry(lock, "nope"), lock);
});

Deno.test("malformed JSON: LOCKFILE_INVALID names the line", () => {
  const e = rejects(
    '{\n  "lockfile_version": 1,\n  "models": [\n    x\n  ]\n}\n',
    /not valid JSON at line 4/,
  );
  assert.equal(e.details.line, 4);
  assert.equal(e.exitCode, 2);
});

Deno.test("a bad field: LOCKFILE_INVALID names the line, the model and the field", () => {
  const lock = withEntry(withEntry(emptyLockfile(), entry("a")), entry("b"));
  const text = serializeLockfile(lock).replace(
    `"sha256": "${SHA_A}"`,
    `"sha256": "${SHA_A}"`.replace('a"', 'g"'),
  );
  const bad = text.split("\n");
  const badLine = bad.findIndex((l) => l.includes("aaag")) + 1;
  assert.ok(badLine > 0);
  const e = rejects(
    text,
    /line \d+, models\[0\] \("a"\)\.files\[0\]\.sha256: must be 64 lowercase hex digits, found "a+g"/,
  );
  assert.equal(e.details.line, badLine);
  assert.equal(e.details.field, "models[0].files[0].sha256");
  assert.deepEqual(e.details.issues, [{
    path: "models[0].files[0].sha256",
    line: badLine,
    expected: "64 lowercase hex digits",
    received: `"${"a".repeat(63)}g"`,
    message: `must be 64 lowercase hex digits, found "${"a".repeat(63)}g"`,
  }]);
});

Deno.test("unknown fields, duplicate names, bad names, no files and newer versions are refused", () => {
  const text = serializeLockfile(withEntry(emptyLockfile(), entry("a")));
  rejects(text.replace('"sha256"', '"sha265"'), /files\[0\]\.sha265: unknown field; did you mean "sha256"\?/);
  const twice = JSON.parse(text);
  twice.models.push(twice.models[0]);
  rejects(JSON.stringify(twice, null, 2), /models\[1\] \("a"\)\.name: "a" is locked twice/);
  rejects(text.replace('"name": "a"', '"name": "../x"'), /must be a model name/);
  const noFiles = JSON.parse(text);
  noFiles.models[0].files = [];
  rejects(JSON.stringify(noFiles), /at least one file/);
  rejects(
    text.replace('"lockfile_version": 1', '"lockfile_version": 2'),
    /lockfile_version 2.*reads version 1/,
  );
  rejects("[]", /\(root\)/);
});

Deno.test("unpinned files: an entry without sha256 or size parses and is reported as unpinned", () => {
  const e = entry("a");
  const { sha256: _, ...file } = e.files[0]!;
  const lock = parseLockfile(serializeLockfile(withEntry(emptyLockfile(), { ...e, files: [file] })), "x");
  assert.deepEqual(unpinnedFiles(lock.models[0]!).map((f) => f.filename), ["a.gguf"]);
  assert.deepEqual(unpinnedFiles(entry("b")), []);
});

Deno.test("read/write: missing file is LOCKFILE_NOT_FOUND (or null); writes are canonical", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-lockfile-" });
  try {
    const path = `${dir}/lode.lock`;
    assert.equal(await readLockfileIfPresent(path), null);
    await assert.rejects(readLockfile(path), (e) => isLodeError(e, "LOCKFILE_NOT_FOUND"));
    const lock = withEntry(emptyLockfile(), entry("a"));
    await writeLockfile(path, lock);
    assert.equal(await Deno.readTextFile(path), serializeLockfile(lock));
    assert.deepEqual(await readLockfile(path), lock);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["lode.lock"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockfilePath: --lockfile, then LODE_LOCKFILE, then ./lode.lock", () => {
  assert.equal(lockfilePath("x.lock", "y.lock"), "x.lock");
  assert.equal(lockfilePath(undefined, "y.lock"), "y.lock");
  assert.equal(lockfilePath(undefined, undefined), "lode.lock");
});

Deno.test("plan <-> entry: the lockfile is the plan (all files, pins, CDN hosts; never headers)", () => {
  const plan = {
    name: "m",
    reference: "hf:o/r:Q4_K_M",
    source: { registry: "huggingface", repo: "o/r", revision: "c".repeat(40) },
    files: [
      { role: "shard", filename: "m-00001-of-00002.gguf", url: "https://hub/1", sha256: SHA_A, sizeBytes: 5 },
      {
        role: "shard",
        filename: "m-00002-of-00002.gguf",
        url: "https://hub/2",
        sha256: SHA_B,
        sizeBytes: 6,
        headers: { authorization: "Bearer secret" },
      },
    ],
    license: "mit",
    format: "gguf",
    allowHosts: ["cdn.test"],
  };
  const e = entryFromPlan(plan);
  assert.ok(!JSON.stringify(e).includes("secret"));
  assert.equal(e.revision, "c".repeat(40));
  const back = planFromEntry(e);
  assert.deepEqual(back, {
    ...plan,
    files: plan.files.map(({ headers: _, ...f }) => f),
  });
});

Deno.test("mirrors: optional per file, kept in order after url, absent when none; plans carry them", () => {
  const plain = entry("plain");
  assert.ok(!serializeLockfile(withEntry(emptyLockfile(), plain)).includes("mirrors"));
  const mirrored: LockEntry = {
    ...entry("m"),
    files: [{ ...entry("m").files[0]!, mirrors: ["https://b.test/m.gguf", "https://a.test/m.gguf"] }],
  };
  const text = serializeLockfile(withEntry(emptyLockfile(), mirrored));
  const file = JSON.parse(text).models[0].files[0];
  assert.deepEqual(Object.keys(file), ["role", "filename", "url", "mirrors", "sha256", "size"]);
  assert.deepEqual(parseLockfile(text, "lode.lock").models[0]!.files[0]!.mirrors, [
    "https://b.test/m.gguf",
    "https://a.test/m.gguf",
  ]);
  assert.deepEqual(planFromEntry(mirrored).files[0]!.mirrors, [
    "https://b.test/m.gguf",
    "https://a.test/m.gguf",
  ]);
  assert.deepEqual(entryFromPlan(planFromEntry(mirrored)), mirrored);
  const bad = text.replace('"https://a.test/m.gguf"', '"ftp://a.test/m.gguf"');
  rejects(bad, /mirrors/);
});

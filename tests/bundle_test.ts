/**
 * `lode export` / `lode import` of bundles through the real CLI: a round trip of the real model that
 * then runs, and every way a bundle can be wrong — each a typed error that leaves the store as it was.
 */
import assert from "node:assert/strict";
import { encodeTarEntryHeader, tarEndOfArchive, tarPadding } from "../src/store/bundle_tar_header.ts";
import { listTree, runLode, storeEvents } from "./support/lode_cli.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const BLOB = `blobs/sha256/27/${SHA}/data`;

interface World {
  dir: string;
  /** A store holding stories260K, and its bundle at `${dir}/s.lode`. */
  source: string;
  bundle: string;
  lode(store: string, ...args: string[]): ReturnType<typeof runLode>;
}

async function withBundle(body: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-bundle-" });
  const lode = (store: string, ...args: string[]) => runLode(args, { store });
  try {
    const source = `${dir}/source`;
    assert.equal((await lode(source, "import", FIXTURE)).code, 0);
    const r = await lode(source, "export", "stories260K", `${dir}/s.lode`, "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(storeEvents(r.stdout).map((e) => e.event), ["bundle_blob", "exported"]);
    await body({ dir, source, bundle: `${dir}/s.lode`, lode });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Files of a store that matter (lock files are created by any attempt and hold nothing). */
async function contents(store: string): Promise<string[]> {
  return (await listTree(store)).filter((p) => !p.startsWith("locks/") || p.startsWith("locks/quarantine/"));
}

async function sh(cmd: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), cwd, stdout: "piped", stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/** Writes a tar of `entries` (paths kept exactly as given). */
async function writeTar(path: string, entries: { path: string; data: Uint8Array }[]): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (const e of entries) {
    for (const part of [encodeTarEntryHeader({ path: e.path, size: e.data.length, mtime: 0 }), e.data]) {
      await file.write(part);
    }
    await file.write(new Uint8Array(tarPadding(e.data.length)));
  }
  await file.write(tarEndOfArchive());
}

Deno.test("round trip: export, inspect with tar and sha256sum, import elsewhere, run from the copy", async () => {
  await withBundle(async ({ dir, bundle, lode }) => {
    const listing = await sh(["tar", "tf", bundle], dir);
    assert.deepEqual(listing.trim().split("\n"), ["lode-bundle.json", "SHA256SUMS", `blobs/sha256/${SHA}`]);
    await Deno.mkdir(`${dir}/x`);
    await sh(["tar", "xf", bundle, "-C", `${dir}/x`], dir);
    assert.match(await sh(["sha256sum", "-c", "SHA256SUMS"], `${dir}/x`), /: OK\n$/);
    const target = `${dir}/target`;
    const r = await lode(target, "import", bundle, "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(storeEvents(r.stdout).map((e) => e.event), ["bundle_blob", "imported"]);
    assert.deepEqual(r.events[0], { event: "bundle_blob", sha256: SHA, size_bytes: 1185376, cached: false });
    assert.equal(r.events[1]!.already_present, false);
    assert.equal(r.events[1]!.path, `${target}/${BLOB}`);
    assert.deepEqual(
      await Deno.readFile(`${target}/${BLOB}`),
      await Deno.readFile(FIXTURE),
    );
    assert.deepEqual(
      JSON.parse(await Deno.readTextFile(`${target}/manifests/stories260K.json`)),
      JSON.parse(await Deno.readTextFile(`${dir}/source/manifests/stories260K.json`)),
    );
    const run = await lode(
      target,
      "run",
      "stories260K",
      "Once upon a time",
      "-t",
      "0",
      "-n",
      "12",
      "--threads",
      "1",
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^, there was a little girl named Lily/);
    // Exporting the same model twice gives the same bytes.
    assert.equal((await lode(`${dir}/source`, "export", "stories260K", `${dir}/again.lode`)).code, 0);
    assert.deepEqual(await Deno.readFile(`${dir}/again.lode`), await Deno.readFile(bundle));
  });
});

Deno.test("import into a store that has the model: a no-op that says so; --name adds a name, no bytes", async () => {
  await withBundle(async ({ source, bundle, lode }) => {
    const before = await listTree(source);
    const again = await lode(source, "import", bundle);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /stories260K .* already in the store: nothing to do\n$/);
    assert.deepEqual(await listTree(source), before);
    const json = await lode(source, "import", bundle, "--json");
    assert.equal(json.events.at(-1)!.already_present, true);
    storeEvents(json.stdout);
    const renamed = await lode(source, "import", bundle, "--name", "tiny", "--json");
    assert.equal(renamed.code, 0, renamed.stderr);
    storeEvents(renamed.stdout);
    assert.equal(renamed.events.at(-1)!.name, "tiny");
    assert.equal(renamed.events.at(-1)!.blobs_written, 0);
    assert.equal(JSON.parse(await Deno.readTextFile(`${source}/manifests/tiny.json`)).blob, `sha256:${SHA}`);
  });
});

Deno.test("export - | import -: a pipe both ways; export of a missing model is MODEL_NOT_FOUND", async () => {
  await withBundle(async ({ dir, source }) => {
    const target = `${dir}/piped`;
    const env = { NO_COLOR: "1", XDG_CONFIG_HOME: `${dir}/nc` };
    const pipe = await new Deno.Command("bash", {
      args: [
        "-c",
        `"$1" run -A "$2" --store "$3" export stories260K - --json | "$1" run -A "$2" --store "$4" import - --json`,
        "_",
        Deno.execPath(),
        new URL("../main.ts", import.meta.url).pathname,
        source,
        target,
      ],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(pipe.stderr);
    assert.equal(pipe.code, 0, stderr);
    // The exporter's events went to stderr (stdout carried the bundle).
    assert.match(stderr, /"event":"exported".*"file":"-"/);
    assert.deepEqual(storeEvents(stderr).map((e) => e.event), ["bundle_blob", "exported"]);
    const imported = storeEvents(new TextDecoder().decode(pipe.stdout));
    assert.deepEqual(imported.map((e) => e.event === "imported" && e.bundle), [false, "-"]);
    assert.deepEqual(await Deno.readFile(`${target}/${BLOB}`), await Deno.readFile(FIXTURE));
    const missing = await runLode(["export", "nope", `${dir}/nope.lode`, "--json"], { store: source });
    assert.equal(missing.code, 3);
    assert.equal(missing.events[0]!.code, "MODEL_NOT_FOUND");
    assert.deepEqual(storeEvents(missing.stdout).map((e) => e.event), ["error"]);
    assert.ok(!(await listTree(dir)).some((p) => p.startsWith("nope")));
  });
});

Deno.test("a flipped byte in the blob: DIGEST_MISMATCH, exit 4, the store unchanged", async () => {
  await withBundle(async ({ dir, bundle, lode }) => {
    const bytes = await Deno.readFile(bundle);
    const at = bytes.length - 1024 - 500_000; // inside the blob
    bytes[at] = bytes[at]! ^ 0x01;
    await Deno.writeFile(`${dir}/flipped.lode`, bytes);
    const target = `${dir}/target`;
    assert.equal((await lode(target, "import", FIXTURE, "--name", "other")).code, 0);
    const before = await contents(target);
    const r = await lode(target, "import", `${dir}/flipped.lode`, "--name", "fresh", "--json");
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.events.at(-1)!.code, "DIGEST_MISMATCH");
    storeEvents(r.stdout);
    assert.deepEqual(await contents(target), before, "the blob was already there, the bundle still fails");
    const empty = `${dir}/empty`;
    const r2 = await lode(empty, "import", `${dir}/flipped.lode`, "--json");
    assert.equal(r2.code, 4);
    assert.equal(r2.events.at(-1)!.code, "DIGEST_MISMATCH");
    storeEvents(r2.stdout);
    assert.deepEqual(await contents(empty), []);
  });
});

Deno.test("a truncated bundle: BUNDLE_INVALID, exit 4, nothing added", async () => {
  await withBundle(async ({ dir, bundle, lode }) => {
    const bytes = await Deno.readFile(bundle);
    for (const cut of [700_000, bytes.length - 1024, 1000]) {
      await Deno.writeFile(`${dir}/cut.lode`, bytes.subarray(0, cut));
      const store = `${dir}/t-${cut}`;
      const r = await lode(store, "import", `${dir}/cut.lode`, "--json");
      assert.equal(r.code, 4, `${cut}: ${r.stderr}`);
      assert.equal(r.events.at(-1)!.code, "BUNDLE_INVALID", `${cut}`);
      storeEvents(r.stdout);
      assert.match(String(r.events.at(-1)!.message), /truncated/);
      const left = await contents(store);
      // Cut after the blob: the blob was verified (allowed to stay), but no manifest.
      assert.ok(!left.some((p) => p.startsWith("manifests/")), left.join());
      assert.ok(left.every((p) => p === BLOB), left.join());
    }
  });
});

Deno.test("a manifest that lies about a size: MANIFEST_INVALID or SIZE_MISMATCH before a byte is written", async () => {
  await withBundle(async ({ dir, bundle, lode }) => {
    const x = `${dir}/x`;
    await Deno.mkdir(x);
    await sh(["tar", "xf", bundle, "-C", x], dir);
    const index = JSON.parse(await Deno.readTextFile(`${x}/lode-bundle.json`));
    const repack = async (mutate: (i: typeof index) => void) => {
      const copy = structuredClone(index);
      mutate(copy);
      await Deno.writeTextFile(`${x}/lode-bundle.json`, JSON.stringify(copy));
      // Packed by GNU tar (its own header format): lode reads standard tars, not only its own.
      await sh(["tar", "cf", `${dir}/lie.lode`, "lode-bundle.json", "SHA256SUMS", `blobs/sha256/${SHA}`], x);
      const store = `${dir}/t-${crypto.randomUUID()}`;
      const r = await lode(store, "import", `${dir}/lie.lode`, "--json");
      storeEvents(r.stdout);
      if (r.code !== 0) assert.deepEqual(await contents(store), []);
      return r;
    };
    const honest = await repack(() => {});
    assert.equal(honest.code, 0, honest.stderr);
    const manifestOnly = await repack((i) => (i.manifest.size_bytes = 1000));
    assert.equal(manifestOnly.code, 9);
    assert.equal(manifestOnly.events.at(-1)!.code, "MANIFEST_INVALID");
    const both = await repack((i) => {
      i.manifest.size_bytes = 1000;
      i.blobs[0].size_bytes = 1000;
    });
    assert.equal(both.code, 4);
    assert.equal(both.events.at(-1)!.code, "SIZE_MISMATCH");
    const version = await repack((i) => (i.lode_bundle = 2));
    assert.equal(version.events.at(-1)!.code, "BUNDLE_INVALID");
  });
});

Deno.test("path traversal entries and foreign tars are refused; a GGUF file still imports", async () => {
  await withBundle(async ({ dir, bundle, lode }) => {
    const x = `${dir}/x`;
    await Deno.mkdir(x);
    await sh(["tar", "xf", bundle, "-C", x], dir);
    const index = await Deno.readFile(`${x}/lode-bundle.json`);
    const store = `${dir}/t`;
    for (
      const [name, entries] of Object.entries({
        first: [{ path: "../x", data: new Uint8Array(3) }],
        later: [{ path: "lode-bundle.json", data: index }, {
          path: "../../etc/evil",
          data: new Uint8Array(3),
        }],
        absolute: [{ path: "lode-bundle.json", data: index }, { path: "/tmp/evil", data: new Uint8Array(3) }],
      })
    ) {
      await writeTar(`${dir}/${name}.tar`, entries);
      const r = await lode(store, "import", `${dir}/${name}.tar`, "--json");
      assert.equal(r.code, 4, name);
      assert.equal(r.events.at(-1)!.code, "BUNDLE_INVALID", name);
      storeEvents(r.stdout);
      assert.match(String(r.events.at(-1)!.message), /path traversal/, name);
    }
    await writeTar(`${dir}/foreign.tar`, [{ path: "README", data: new TextEncoder().encode("hi") }]);
    const foreign = await lode(store, "import", `${dir}/foreign.tar`);
    assert.equal(foreign.code, 4);
    assert.match(foreign.stderr, /error\[BUNDLE_INVALID\]: .*not lode-bundle\.json/);
    assert.deepEqual(await contents(store), []);
    // A bundle needs no extension, a GGUF file with a bundle-like name is still a GGUF.
    await Deno.copyFile(FIXTURE, `${dir}/looks-like.lode`);
    const gguf = await lode(store, "import", `${dir}/looks-like.lode`, "--name", "g", "--json");
    assert.equal(gguf.code, 0, gguf.stderr);
    assert.equal(gguf.events[0]!.blob, `sha256:${SHA}`);
    assert.deepEqual(storeEvents(gguf.stdout).map((e) => e.event), ["imported"]);
  });
});

Deno.test("a bundle of a gguf model whose bytes are not GGUF: GGUF_INVALID, exit 4, quarantined, no manifest", async () => {
  await withBundle(async ({ dir, lode }) => {
    // A store where a text file was stored as a gguf model (as an older lode allowed), exported as is.
    const old = `${dir}/old`;
    await Deno.writeTextFile(`${dir}/notes.txt`, "notes, not weights\n");
    assert.equal(
      (await lode(old, "import", `${dir}/notes.txt`, "--name", "notes", "--format", "json")).code,
      0,
    );
    const manifest = `${old}/manifests/notes.json`;
    await Deno.writeTextFile(manifest, (await Deno.readTextFile(manifest)).replace('"json"', '"gguf"'));
    assert.equal((await lode(old, "export", "notes", `${dir}/notes.lode`)).code, 0);
    const target = `${dir}/target`;
    const r = await lode(target, "import", `${dir}/notes.lode`, "--json");
    assert.equal(r.code, 4, r.stdout + r.stderr);
    const error = storeEvents(r.stdout).find((e) => e.event === "error");
    assert.ok(error?.event === "error" && error.code === "GGUF_INVALID", r.stdout);
    assert.match(error.message, /"notes" was not stored: notes\.txt: not a GGUF file/);
    const left = await contents(target);
    assert.ok(!left.some((p) => p.startsWith("manifests/") || p.startsWith("blobs/")), left.join());
    const record = left.find((p) => p.endsWith(".json"))!;
    const q = JSON.parse(await Deno.readTextFile(`${target}/${record}`));
    assert.deepEqual([q.reason, q.source], ["gguf_invalid", `${dir}/notes.lode`]);
  });
});

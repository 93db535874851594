/**
 * `lode pull hf:…` end to end: the real CLI against a fake Hugging Face Hub over real HTTPS on
 * loopback (API and resolve on 127.0.0.1, 302 redirects to a "CDN" reached as localhost, Range
 * supported), with real GGUF bytes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { makeTestCa, type TestCa } from "./support/test_ca.ts";
import { type FakeHub, type FakeRepo, startFakeHub } from "./support/fake_hub.ts";
import { fileURLToPath } from "node:url";
import { listTree, runLode } from "./support/lode_cli.ts";
import { ggufWith } from "./support/gguf_bytes.ts";
import { splitGguf } from "../scripts/split_gguf.ts";

const STORIES_PATH = fileURLToPath(new URL("./fixtures/stories260K.gguf", import.meta.url));
const STORIES = await Deno.readFile(STORIES_PATH);
const STORIES_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
const TOKEN = "hf_TestTokenDoNotLeak0123456789";

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}
const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** stories260K split into 3 real shards (llama.cpp's gguf-split layout), so `lode run` can load them. */
const SHARDS = await (async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-hf-shards-" });
  try {
    const shards = await splitGguf(STORIES_PATH, {
      outPrefix: `${dir}/split-Q8_0`,
      count: 3,
    });
    return await Promise.all(shards.map((s) => Deno.readFile(s.path)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
})();
const SHARD_BYTES = SHARDS.reduce((n, b) => n + b.length, 0);
// Well-formed GGUF files of patterned bytes: the store takes a model only when lode's GGUF reader does.
const MMPROJ = ggufWith(bytes(50_000, 4));
const Q8 = ggufWith(bytes(150_000, 5));

const REPOS: FakeRepo[] = [
  {
    repo: "tiny/stories-GGUF",
    refs: ["dev", "v1"],
    files: [
      { path: "README.md", bytes: new TextEncoder().encode("# stories\n"), lfs: false },
      { path: "stories260K-Q4_K_M.gguf", bytes: STORIES },
      { path: "stories260K-Q8_0.gguf", bytes: Q8 },
    ],
  },
  {
    repo: "tiny/split-GGUF",
    files: [
      ...SHARDS.map((b, i) => ({ path: `Q8_0/split-Q8_0-0000${i + 1}-of-00003.gguf`, bytes: b })),
      { path: "mmproj-split-F16.gguf", bytes: MMPROJ },
    ],
  },
  {
    repo: "tiny/gated-GGUF",
    gated: "manual",
    tokens: [TOKEN],
    files: [{ path: "gated-Q4_K_M.gguf", bytes: STORIES }],
  },
  {
    repo: "tiny/private-GGUF",
    private: true,
    tokens: [TOKEN],
    files: [{ path: "p-Q4_K_M.gguf", bytes: Q8 }],
  },
];

interface World {
  ca: TestCa;
  hub: FakeHub;
  store: string;
  lode(args: string[], env?: Record<string, string>): ReturnType<typeof runLode>;
}

async function withHub(body: (w: World) => Promise<void>, options: { allowCdn?: boolean } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "lode-hf-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const hub = await startFakeHub(ca, REPOS, { pageSize: 3 });
  const store = `${dir}/store`;
  const allow = options.allowCdn === false ? [] : ["--allow-host", hub.cdnHost];
  try {
    await body({
      ca,
      hub,
      store,
      lode: (args, env) =>
        runLode(["--ca-cert", ca.caCertPath, ...allow, ...args], {
          store,
          env: { HF_ENDPOINT: hub.endpoint, ...env },
        }),
    });
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const manifest = async (store: string, name: string) =>
  JSON.parse(await Deno.readTextFile(`${store}/manifests/${name}.json`));

Deno.test("lode pull hf:OWNER/REPO:Q4_K_M: resolved, redirected to the CDN, verified, pinned to the commit; runs", async () => {
  await withHub(async ({ hub, store, lode }) => {
    const r = await lode(["pull", "hf:tiny/stories-GGUF:Q4_K_M", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const kinds = r.events.map((e) => e.event).filter((k) => k !== "file_progress");
    assert.deepEqual(kinds, ["started", "file_started", "file_completed", "completed"]);
    assert.equal(r.events[0]!.total_files, 1);
    assert.equal(r.events[0]!.total_bytes, STORIES.length);
    const started = r.events.find((e) => e.event === "file_started")!;
    assert.equal(started.index, 1);
    assert.match(String(started.url), /^https:\/\/localhost:\d+\/repos\/27\//);
    const sha = hub.shaOf("tiny/stories-GGUF");
    const m = await manifest(store, "stories260K-Q4_K_M");
    assert.equal(m.blob, `sha256:${STORIES_SHA}`);
    assert.equal(m.pinned, true);
    assert.equal(m.license, "mit");
    assert.deepEqual(m.source, {
      registry: "huggingface",
      repo: "tiny/stories-GGUF",
      revision: sha,
      filename: "stories260K-Q4_K_M.gguf",
      url: `${hub.endpoint}/tiny/stories-GGUF/resolve/${sha}/stories260K-Q4_K_M.gguf`,
    });
    assert.equal(m.files, undefined);
    // Bytes came from the CDN, by range; the Hub only answered the API and the redirect.
    assert.ok(hub.cdn.requests.length >= 1 && hub.cdn.requests.every((q) => q.headers.range));
    assert.ok(hub.hub.requests.some((q) => q.path.includes("/resolve/")));
    // The ollama / llama.cpp spelling names the same model: nothing is downloaded again.
    const cdnBefore = hub.cdn.requests.length;
    const again = await lode(["pull", "hf.co/tiny/stories-GGUF:q4_k_m", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.events.find((e) => e.event === "file_completed")?.cached, true);
    assert.equal(hub.cdn.requests.length, cdnBefore);
    const run = await lode([
      "run",
      "stories260K-Q4_K_M",
      "Once upon a time",
      "--temperature",
      "0",
      "-n",
      "8",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^, there was a little girl/);
    // Pinned to the commit it was pulled at, the reference runs from the store: no request, even offline.
    const hubBefore = hub.hub.requests.length;
    const pinned = await lode([
      "run",
      `hf:tiny/stories-GGUF:Q4_K_M@${sha}`,
      "Once upon a time",
      "-t",
      "0",
      "-n",
      "8",
      "--offline",
    ]);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(pinned.stdout, run.stdout);
    assert.equal(hub.hub.requests.length, hubBefore, "a pinned, stored reference asks the Hub nothing");
  });
});

Deno.test("@branch pins the commit sha; a path form pulls one file; no quant picks Q4_K_M", async () => {
  await withHub(async ({ hub, store, lode }) => {
    const sha = hub.shaOf("tiny/stories-GGUF");
    const r = await lode(["pull", "hf:tiny/stories-GGUF/stories260K-Q8_0.gguf@dev"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^stories260K-Q8_0  sha256:${hex(Q8)}`));
    const m = await manifest(store, "stories260K-Q8_0");
    assert.equal(m.source.revision, sha);
    assert.ok(hub.hub.requests.some((q) => q.path === "/api/models/tiny/stories-GGUF/revision/dev"));
    const d = await lode(["pull", "hf:tiny/stories-GGUF@v1", "--name", "default"]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal((await manifest(store, "default")).blob, `sha256:${STORIES_SHA}`);
    // Stored under --name, the pinned reference still finds it: no request to the Hub, even offline.
    const hubBefore = hub.hub.requests.length;
    const run = await lode([
      "run",
      `hf:tiny/stories-GGUF@${sha}`,
      "Once upon a time",
      "-t",
      "0",
      "-n",
      "4",
      "--offline",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(hub.hub.requests.length, hubBefore);
  });
});

Deno.test("split shards and an mmproj: one manifest with every file, links side by side, verify, repair, rm", async () => {
  await withHub(async ({ store, lode }) => {
    const r = await lode(["pull", "hf:tiny/split-GGUF:q8_0", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const started = r.events.find((e) => e.event === "started")!;
    assert.equal(started.total_files, 4);
    assert.equal(started.total_bytes, SHARD_BYTES + MMPROJ.length);
    const fileStarted = r.events.filter((e) => e.event === "file_started");
    assert.deepEqual(fileStarted.map((e) => e.index).sort(), [1, 2, 3, 4]);
    assert.ok(fileStarted.every((e) => e.total_files === 4 && e.model === "split-Q8_0"));
    assert.equal(r.events.at(-1)!.event, "completed");
    assert.equal(r.events.at(-1)!.size_bytes, SHARD_BYTES + MMPROJ.length);
    const m = await manifest(store, "split-Q8_0");
    assert.equal(m.blob, `sha256:${hex(SHARDS[0]!)}`);
    assert.equal(m.size_bytes, SHARDS[0]!.length);
    assert.deepEqual(
      m.files.map((f: { role: string; filename: string; blob: string }) => [f.role, f.filename, f.blob]),
      [
        ["shard", "Q8_0/split-Q8_0-00001-of-00003.gguf", `sha256:${hex(SHARDS[0]!)}`],
        ["shard", "Q8_0/split-Q8_0-00002-of-00003.gguf", `sha256:${hex(SHARDS[1]!)}`],
        ["shard", "Q8_0/split-Q8_0-00003-of-00003.gguf", `sha256:${hex(SHARDS[2]!)}`],
        ["mmproj", "mmproj-split-F16.gguf", `sha256:${hex(MMPROJ)}`],
      ],
    );
    // `lode path` gives shard 1 in a directory where its siblings sit under their original names.
    const path = (await lode(["path", "split-Q8_0"])).stdout.trim();
    assert.equal(path, `${store}/links/split-Q8_0/split-Q8_0-00001-of-00003.gguf`);
    for (const [i, b] of SHARDS.entries()) {
      assert.deepEqual(
        await Deno.readFile(`${store}/links/split-Q8_0/split-Q8_0-0000${i + 1}-of-00003.gguf`),
        b,
      );
    }
    assert.deepEqual(await Deno.readFile(`${store}/links/split-Q8_0/mmproj-split-F16.gguf`), MMPROJ);
    const ok = await lode(["verify", "split-Q8_0"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ok\s+split-Q8_0 .*\(4 files\)/);
    // llama.cpp loads the split model from shard 1's link and finds the other shards beside it.
    const prompt = ["Once upon a time", "--temperature", "0", "--max-tokens", "24", "--threads", "1"];
    const split = await lode(["run", "split-Q8_0", ...prompt]);
    assert.equal(split.code, 0, split.stderr);
    const whole = await lode([
      "run",
      `file:${STORIES_PATH}`,
      ...prompt,
    ]);
    assert.equal(whole.code, 0, whole.stderr);
    assert.ok(whole.stdout.length > 20);
    assert.equal(split.stdout, whole.stdout);
    // A corrupt shard: verify names it and quarantines it; pulling by name repairs only it.
    const shard2 = hex(SHARDS[1]!);
    const blob2 = `${store}/blobs/sha256/${shard2.slice(0, 2)}/${shard2}/data`;
    await Deno.chmod(blob2, 0o644);
    await Deno.writeFile(blob2, bytes(SHARDS[1]!.length, 9));
    const bad = await lode(["verify", "split-Q8_0"]);
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /split-Q8_0-00002-of-00003\.gguf/);
    const repair = await lode(["pull", "split-Q8_0", "--json"]);
    assert.equal(repair.code, 0, repair.stderr);
    const downloaded = repair.events.filter((e) => e.event === "file_completed" && e.cached === false);
    assert.deepEqual(downloaded.map((e) => e.filename), ["Q8_0/split-Q8_0-00002-of-00003.gguf"]);
    assert.equal((await lode(["verify", "split-Q8_0"])).code, 0);
    // rm takes every blob and the links.
    const rm = await lode(["rm", "split-Q8_0"]);
    assert.equal(rm.code, 0, rm.stderr);
    const tree = await listTree(store);
    assert.ok(
      !tree.some((p) => p.startsWith("blobs/") || p.startsWith("manifests/") || p.startsWith("links/")),
      tree.join("\n"),
    );
  });
});

Deno.test("a required file that fails leaves no manifest; the finished ones stay and are not fetched again", async () => {
  await withHub(async ({ hub, store, lode }) => {
    const third = hex(SHARDS[2]!);
    const route = `/repos/${third.slice(0, 2)}/${third}`;
    const saved = hub.cdn.routes[route]!;
    delete hub.cdn.routes[route];
    const r = await lode(["pull", "hf:tiny/split-GGUF:Q8_0", "--json"]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.equal(r.events.at(-1)!.event, "failed");
    const tree = await listTree(store);
    assert.ok(!tree.some((p) => p.startsWith("manifests/")), tree.join("\n"));
    for (const b of [SHARDS[0]!, SHARDS[1]!, MMPROJ]) {
      assert.ok(tree.includes(`blobs/sha256/${hex(b).slice(0, 2)}/${hex(b)}/data`), hex(b));
    }
    hub.cdn.routes[route] = saved;
    const before = hub.cdn.requests.length;
    const again = await lode(["pull", "hf:tiny/split-GGUF:Q8_0", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const fetched = new Set(hub.cdn.requests.slice(before).map((q) => q.path.split("?")[0]));
    assert.deepEqual([...fetched], [route]);
  });
});

Deno.test("an mmproj that fails does not fail the pull: the manifest lists the shards only", async () => {
  await withHub(async ({ hub, store, lode }) => {
    const mmproj = hex(MMPROJ);
    delete hub.cdn.routes[`/repos/${mmproj.slice(0, 2)}/${mmproj}`];
    const r = await lode(["pull", "hf:tiny/split-GGUF:Q8_0", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.events.at(-1)!.event, "completed");
    const m = await manifest(store, "split-Q8_0");
    assert.deepEqual(
      m.files.map((f: { role: string; filename: string }) => [f.role, f.filename]),
      SHARDS.map((_, i) => ["shard", `Q8_0/split-Q8_0-0000${i + 1}-of-00003.gguf`]),
    );
    assert.ok(!(await listTree(store)).some((p) => p.startsWith("blobs/") && p.includes(mmproj)));
  });
});

Deno.test("a missing quant lists the available ones", async () => {
  await withHub(async ({ lode, store }) => {
    const r = await lode(["pull", "hf:tiny/stories-GGUF:Q2_K"]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /error\[MODEL_NOT_FOUND\]: tiny\/stories-GGUF at main has no Q2_K file/);
    assert.match(r.stderr, /Available quants: Q4_K_M, Q8_0/);
    assert.deepEqual(await listTree(store), []);
    const bad = await lode(["pull", "hf:tiny/stories-GGUF:Q4 K"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /INVALID_REF/);
  });
});

Deno.test("gated and private repos: ACCESS_DENIED saying what to do; HF_TOKEN only ever goes to the Hub", async () => {
  await withHub(async ({ hub, store, lode }) => {
    const none = await lode(["pull", "hf:tiny/gated-GGUF"]);
    assert.equal(none.code, 6, none.stderr);
    assert.match(none.stderr, /error\[ACCESS_DENIED\]: .*\(HTTP 401\): it is gated\n/);
    assert.match(
      none.stderr,
      /hint: Set HF_TOKEN.*accept the model's terms on https:\/\/127\.0\.0\.1:\d+\/tiny\/gated-GGUF/,
    );
    const wrong = await lode(["pull", "hf:tiny/gated-GGUF", "--json"], { HF_TOKEN: "hf_wrong" });
    assert.equal(wrong.code, 6, wrong.stdout + wrong.stderr);
    const failed = wrong.events.find((e) => e.event === "failed")!;
    assert.equal(failed.code, "ACCESS_DENIED");
    assert.match(String(failed.message), /HTTP 403/);
    const priv = await lode(["pull", "hf:tiny/private-GGUF"]);
    assert.equal(priv.code, 6);
    // The Hub's X-Error-Code (RepoNotFound) says which: private, not gated.
    assert.match(priv.stderr, /HTTP 401\): it is private \(or does not exist\)/);
    assert.ok(!(await listTree(store)).some((p) => p.startsWith("manifests/")));

    const runs = [
      await lode(["pull", "hf:tiny/gated-GGUF", "--json"], { HF_TOKEN: TOKEN }),
      await lode(["pull", "hf:tiny/private-GGUF"], { HF_TOKEN: TOKEN }),
    ];
    for (const r of runs) {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN));
    }
    const withToken = hub.hub.requests.filter((q) => q.headers.authorization === `Bearer ${TOKEN}`);
    assert.ok(withToken.some((q) => q.path.startsWith("/api/models/tiny/gated-GGUF/revision/")));
    assert.ok(withToken.some((q) => q.path.startsWith("/tiny/gated-GGUF/resolve/")));
    assert.ok(hub.cdn.requests.length > 0);
    assert.ok(
      hub.cdn.requests.every((q) => q.headers.authorization === undefined),
      "the token reached the CDN",
    );
    for (const p of await listTree(store)) {
      if (p.endsWith("/data")) continue;
      const text = await Deno.readTextFile(`${store}/${p}`).catch(() => "");
      assert.ok(!text.includes(TOKEN), `${p} holds the token`);
    }
    // A re-pull by name sends the token again (to the Hub only).
    const gatedBlob = `${store}/blobs/sha256/27/${STORIES_SHA}/data`;
    await Deno.chmod(gatedBlob, 0o644);
    await Deno.writeFile(gatedBlob, bytes(10, 1));
    assert.equal((await lode(["verify", "gated-Q4_K_M"])).code, 4);
    // Without the token, the Hub's refusal of the download says what to do, as on the first pull.
    const refused = await lode(["pull", "gated-Q4_K_M"]);
    assert.equal(refused.code, 6, refused.stderr);
    assert.match(refused.stderr, /error\[ACCESS_DENIED\].*gated-Q4_K_M\.gguf \(HTTP 401\)/);
    assert.match(refused.stderr, /hint: Set HF_TOKEN.*https:\/\/127\.0\.0\.1:\d+\/tiny\/gated-GGUF/);
    const repull = await lode(["pull", "gated-Q4_K_M"], { HF_TOKEN: TOKEN });
    assert.equal(repull.code, 0, repull.stderr);
    assert.ok(hub.cdn.requests.every((q) => q.headers.authorization === undefined));
  });
});

Deno.test("the CDN host must be allowed for a mirror (HF_ENDPOINT): HOST_NOT_ALLOWED names the redirect", async () => {
  await withHub(async ({ lode, store }) => {
    const r = await lode(["pull", "hf:tiny/stories-GGUF:Q8_0"]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(
      r.stderr,
      /error\[HOST_NOT_ALLOWED\]: host localhost is not on the allow-list \(redirected from 127\.0\.0\.1/,
    );
    assert.ok(!(await listTree(store)).some((p) => p.startsWith("manifests/")));
  }, { allowCdn: false });
});

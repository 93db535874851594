/**
 * Tests of `deno task compile` (its arguments: compile_plan_test.ts): the script's failure paths as a
 * real process, a real `deno compile` run on a stand-in runtime (the deno CLI, which is not
 * a denort: it shows deno accepts the arguments and that only the CPU prebuilt is embedded), and —
 * only where a denort is available through `DENORT_BIN` — the real single binary running the model.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isDenortFailure } from "./compile.ts";
import { COMPILE_EXIT, compileArgs } from "./compile_plan.ts";
import { VERSION } from "../src/version.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./compile.ts", import.meta.url));
const NM = "node_modules/.deno";

/** Values that follow `flag` in `args`. */
function flagValues(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));
}

Deno.test("isDenortFailure recognises deno's runtime download error, not program errors", () => {
  const real = "error: Writing deno compile executable to temporary file 'x.tmp-3d4d'\n\nCaused by:\n" +
    "    0: Setting up base binary.\n    1: error sending request for url " +
    "(https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): client error (Connect)";
  assert.ok(isDenortFailure(real));
  assert.ok(!isDenortFailure("TS2322 [ERROR]: Type 'string' is not assignable to type 'number'."));
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function runScript(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const merged: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    cwd: ROOT,
    env: merged,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
}

Deno.test("compile script: usage errors exit 2, a DENORT_BIN that does not exist exits 3", async () => {
  const usage = await runScript(["--gpu", "metal"], {});
  assert.equal(usage.code, COMPILE_EXIT.USAGE, usage.stderr);
  assert.match(usage.stderr, /--gpu must be cuda or vulkan/);
  const missing = await runScript([], { DENORT_BIN: "/nonexistent/denort" });
  assert.equal(missing.code, COMPILE_EXIT.NO_DENORT, missing.stderr);
  assert.match(missing.stderr, /DENORT_BIN=\/nonexistent\/denort does not exist/);
  assert.match(missing.stderr, /DENORT_BIN=\/path\/to\/denort deno task compile/);
});

Deno.test("compile script: no DENORT_BIN and no download (--offline, empty DENO_DIR) exits 3 and says why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-compile-offline-" });
  try {
    // --offline points deno's proxies at a loopback port that drops connections: nothing leaves the machine.
    const r = await runScript(["--offline", "--output", `${dir}/lode`], {
      DENORT_BIN: undefined,
      DENO_DIR: `${dir}/deno_dir`,
    });
    assert.equal(r.code, COMPILE_EXIT.NO_DENORT, r.stderr);
    assert.match(r.stderr, /no denort runtime: DENORT_BIN is not set, and deno could not download/);
    assert.match(r.stderr, /denort-[a-z0-9_]+-[a-z0-9_-]+\.zip/);
    await assert.rejects(Deno.stat(`${dir}/lode`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "compile script: a real deno compile on a stand-in runtime embeds the CPU prebuilt only",
  // The deno CLI is not a denort: the binary it yields runs deno, so the smoke check must fail (exit 4).
  // What this proves: deno 2.9.6 accepts the arguments, and the embedded files are ~46 MB, not ~700 MB.
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "lode-compile-standin-" });
    try {
      const out = `${dir}/lode`;
      const r = await runScript(["--output", out], { DENORT_BIN: Deno.execPath() });
      assert.equal(r.code, COMPILE_EXIT.SMOKE_FAILED, r.stderr);
      assert.match(r.stderr, /smoke check failed: .*expected 0\.1\.0/);
      assert.match(r.stdout, /wrote .* \(\d+\.\d MB, \d+ bytes\)/);
      const embedded = (await Deno.stat(out)).size - (await Deno.stat(Deno.execPath())).size;
      console.log(`stand-in build: ${(embedded / 1e6).toFixed(1)} MB embedded`);
      assert.ok(embedded > 25e6, `the CPU prebuilt (~29 MB) is embedded: ${embedded}`);
      assert.ok(embedded < 100e6, `no GPU/other-platform prebuilts embedded: ${embedded}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Copies `rel` (a file, link or directory under ROOT) to `dest`, keeping links and leaving out `skip`. */
async function copyTree(rel: string, dest: string, skip: Set<string>): Promise<void> {
  if (skip.has(rel)) return;
  const info = await Deno.lstat(`${ROOT}${rel}`);
  if (info.isSymlink) await Deno.symlink(await Deno.readLink(`${ROOT}${rel}`), `${dest}/${rel}`);
  else if (info.isFile) await Deno.copyFile(`${ROOT}${rel}`, `${dest}/${rel}`);
  else if (info.isDirectory) {
    await Deno.mkdir(`${dest}/${rel}`, { recursive: true });
    for await (const e of Deno.readDir(`${ROOT}${rel}`)) await copyTree(`${rel}/${e.name}`, dest, skip);
  }
}

Deno.test("the embedded file set (CPU prebuilt only, no llama.cpp sources) runs the real model", async () => {
  // What the self-extracting binary unpacks, rebuilt on disk from the plan's --exclude list and run
  // with `deno run`: node-llama-cpp must find its CPU prebuilt without the other packages.
  const installed = [...Deno.readDirSync(`${ROOT}${NM}`)].map((e) => e.name);
  const plan = compileArgs("main.ts", { installed, hostTarget: Deno.build.target });
  const dir = await Deno.makeTempDir({ prefix: "lode-compile-vfs-" });
  try {
    const app = `${dir}/app`;
    await Deno.mkdir(`${app}/tests/fixtures`, { recursive: true });
    const skip = new Set(flagValues(plan.args, "--exclude"));
    for (const rel of ["main.ts", "deno.json", "deno.lock", "src", "node_modules"]) {
      await copyTree(rel, app, skip);
    }
    await Deno.copyFile(`${ROOT}tests/fixtures/stories260K.gguf`, `${app}/tests/fixtures/stories260K.gguf`);
    for (const name of plan.excluded) {
      const dirName = `${NM}/${name.replace("/", "+")}@`;
      assert.ok(![...Deno.readDirSync(`${app}/${NM}`)].some((e) => `${NM}/${e.name}`.startsWith(dirName)));
    }
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--node-modules-dir=manual",
        "main.ts",
        "run",
        "file:tests/fixtures/stories260K.gguf",
      ]
        .concat(["Once upon a time", "--temperature", "0", "--max-tokens", "20"]),
      cwd: app,
      env: { MODELS_HOME: `${dir}/store`, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(r.stdout);
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.ok(stdout.startsWith(", there was a little girl named Lily"), stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const DENORT_BIN = Deno.env.get("DENORT_BIN");
const denortReady = DENORT_BIN !== undefined && DENORT_BIN !== "" && fileExists(DENORT_BIN);
function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
if (!denortReady) {
  console.log(
    `skipped: single-binary integration test (dist/lode --version, dist/lode run stories260K): ` +
      (DENORT_BIN ? `DENORT_BIN=${DENORT_BIN} does not exist` : "DENORT_BIN is not set") +
      "; deno compile needs a denort runtime and dl.deno.land is not reachable here",
  );
}

Deno.test({
  name: "single binary: dist/lode --version and dist/lode run the real model (needs DENORT_BIN)",
  ignore: !denortReady,
  fn: async () => {
    const build = await runScript([], {});
    assert.equal(build.code, COMPILE_EXIT.OK, build.stderr);
    const lode = `${ROOT}dist/lode`;
    const store = await Deno.makeTempDir({ prefix: "lode-compiled-store-" });
    try {
      const run = async (args: string[]) => {
        const r = await new Deno.Command(lode, {
          args,
          cwd: ROOT,
          env: { MODELS_HOME: store, NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const d = new TextDecoder();
        return { code: r.code, stdout: d.decode(r.stdout), stderr: d.decode(r.stderr) };
      };
      const version = await run(["--version"]);
      assert.equal(version.code, 0, version.stderr);
      assert.equal(version.stdout.trim(), VERSION);
      const story = await run([
        "run",
        "file:tests/fixtures/stories260K.gguf",
        "Once upon a time",
        "--temperature",
        "0",
        "--max-tokens",
        "20",
      ]);
      assert.equal(story.code, 0, story.stderr);
      assert.ok(story.stdout.startsWith(", there was a little girl named Lily"), story.stdout);
    } finally {
      await Deno.remove(store, { recursive: true });
    }
  },
});

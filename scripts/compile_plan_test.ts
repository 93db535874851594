/** Tests of the `deno compile` arguments of `deno task compile` (pure, but for this checkout's node_modules). */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { COMPILE_EXIT, compileArgs, CompileError } from "./compile_plan.ts";
import { testOnlyEntries } from "./compile_packages.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LINUX = "x86_64-unknown-linux-gnu";
const NM = "node_modules/.deno";
/** What `deno install` put in node_modules/.deno on this linux-x64 machine (the relevant part). */
const INSTALLED = [
  "node-llama-cpp@3.21.1",
  "@node-llama-cpp+linux-arm64@3.21.1",
  "@node-llama-cpp+linux-armv7l@3.21.1",
  "@node-llama-cpp+linux-x64-cuda-ext@3.21.1",
  "@node-llama-cpp+linux-x64-cuda@3.21.1",
  "@node-llama-cpp+linux-x64-vulkan@3.21.1",
  "@node-llama-cpp+linux-x64@3.21.1",
  "zod@4.1.12",
];

const pkg = (name: string) => `${NM}/@node-llama-cpp+${name}@3.21.1/node_modules/@node-llama-cpp/${name}`;
const link = (name: string) => `${NM}/node-llama-cpp@3.21.1/node_modules/@node-llama-cpp/${name}`;
/** Values that follow `flag` in `args`. */
function flagValues(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));
}

Deno.test("compileArgs: the default build embeds only the target's CPU prebuilt", () => {
  const plan = compileArgs("main.ts", { installed: INSTALLED, hostTarget: LINUX });
  assert.equal(plan.output, "dist/lode");
  assert.equal(plan.target, LINUX);
  assert.deepEqual(plan.args.slice(0, 4), ["compile", "-A", "--output", "dist/lode"]);
  assert.equal(plan.args.at(-1), "main.ts");
  assert.ok(plan.args.includes("--self-extracting"));
  assert.ok(!plan.args.includes("--target"), "no --target unless asked for");
  assert.deepEqual(plan.prebuilts, ["@node-llama-cpp/linux-x64"]);
  assert.deepEqual(flagValues(plan.args, "--include"), [pkg("linux-x64")]);
  const others = ["linux-arm64", "linux-armv7l", "linux-x64-cuda", "linux-x64-cuda-ext", "linux-x64-vulkan"];
  assert.deepEqual(plan.excluded, others.map((n) => `@node-llama-cpp/${n}`));
  const excludes = flagValues(plan.args, "--exclude");
  for (const name of others) {
    assert.ok(excludes.includes(`${NM}/@node-llama-cpp+${name}@3.21.1`), name);
    assert.ok(excludes.includes(pkg(name)), name);
    assert.ok(excludes.includes(link(name)), name);
  }
  assert.ok(!excludes.some((p) => p.includes("linux-x64@") || p.endsWith("/linux-x64")), "CPU build kept");
  assert.ok(
    excludes.includes(`${NM}/node-llama-cpp@3.21.1/node_modules/node-llama-cpp/llama/gitRelease.bundle`),
  );
});

Deno.test("compileArgs: --gpu cuda / vulkan is a separate build that keeps the CPU build as fallback", () => {
  const cuda = compileArgs("main.ts", { installed: INSTALLED, hostTarget: LINUX, gpu: "cuda" });
  assert.equal(cuda.output, "dist/lode-cuda");
  assert.deepEqual(cuda.prebuilts, [
    "@node-llama-cpp/linux-x64",
    "@node-llama-cpp/linux-x64-cuda",
    "@node-llama-cpp/linux-x64-cuda-ext",
  ]);
  assert.deepEqual(cuda.excluded, [
    "@node-llama-cpp/linux-arm64",
    "@node-llama-cpp/linux-armv7l",
    "@node-llama-cpp/linux-x64-vulkan",
  ]);
  assert.deepEqual(
    flagValues(cuda.args, "--include").sort(),
    [pkg("linux-x64"), pkg("linux-x64-cuda"), pkg("linux-x64-cuda-ext")].sort(),
  );

  const vulkan = compileArgs("main.ts", { installed: INSTALLED, hostTarget: LINUX, gpu: "vulkan" });
  assert.equal(vulkan.output, "dist/lode-vulkan");
  assert.deepEqual(vulkan.prebuilts, ["@node-llama-cpp/linux-x64", "@node-llama-cpp/linux-x64-vulkan"]);
  const excludes = flagValues(vulkan.args, "--exclude");
  assert.ok(excludes.includes(pkg("linux-x64-cuda")) && excludes.includes(pkg("linux-x64-cuda-ext")));
  assert.ok(!excludes.includes(pkg("linux-x64-vulkan")));
});

Deno.test("compileArgs: --target passes through and picks that platform's prebuilt", () => {
  const target = "aarch64-unknown-linux-gnu";
  const plan = compileArgs("main.ts", { installed: INSTALLED, hostTarget: LINUX, target });
  assert.deepEqual(flagValues(plan.args, "--target"), [target]);
  assert.equal(plan.output, `dist/lode-${target}`);
  assert.deepEqual(plan.prebuilts, ["@node-llama-cpp/linux-arm64"]);
  assert.ok(flagValues(plan.args, "--exclude").includes(pkg("linux-x64")));
  // An explicit host target is passed through too, and names the output after it.
  const host = compileArgs("main.ts", { installed: INSTALLED, hostTarget: LINUX, target: LINUX });
  assert.deepEqual(flagValues(host.args, "--target"), [LINUX]);
  assert.equal(host.output, `dist/lode-${LINUX}`);
});

Deno.test("compileArgs: output and self-extraction can be chosen; Windows outputs end in .exe", () => {
  const plan = compileArgs("main.ts", {
    installed: [...INSTALLED, "node-llama-cpp@3.21.1", "@node-llama-cpp+win-x64@3.21.1"],
    hostTarget: LINUX,
    target: "x86_64-pc-windows-msvc",
    output: "/tmp/x/lode.exe",
    selfExtracting: false,
  });
  assert.equal(plan.output, "/tmp/x/lode.exe");
  assert.ok(!plan.args.includes("--self-extracting"));
  assert.deepEqual(plan.prebuilts, ["@node-llama-cpp/win-x64"]);
  const win = compileArgs("main.ts", {
    installed: ["node-llama-cpp@3.21.1", "@node-llama-cpp+win-x64@3.21.1"],
    hostTarget: LINUX,
    target: "x86_64-pc-windows-msvc",
  });
  assert.equal(win.output, "dist/lode-x86_64-pc-windows-msvc.exe");
});

Deno.test("compileArgs: unknown targets, missing flavours and missing packages are errors with codes", () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof CompileError, String(e));
      return e.exitCode;
    }
    assert.fail("expected a CompileError");
  };
  const base = { installed: INSTALLED, hostTarget: LINUX };
  assert.equal(
    code(() => compileArgs("main.ts", { ...base, target: "riscv64-unknown-linux-gnu" })),
    COMPILE_EXIT.USAGE,
  );
  assert.equal(
    code(() => compileArgs("main.ts", { ...base, target: "aarch64-unknown-linux-gnu", gpu: "cuda" })),
    COMPILE_EXIT.USAGE,
  );
  assert.equal(
    code(() => compileArgs("main.ts", { ...base, target: "aarch64-apple-darwin" })),
    COMPILE_EXIT.NO_PREBUILT,
  );
  // A prebuilt whose version differs from node-llama-cpp's is ignored by node-llama-cpp: not usable.
  const stale = ["node-llama-cpp@3.21.1", "@node-llama-cpp+linux-x64@3.20.0"];
  assert.equal(
    code(() => compileArgs("main.ts", { installed: stale, hostTarget: LINUX })),
    COMPILE_EXIT.NO_PREBUILT,
  );
  assert.equal(
    code(() => compileArgs("main.ts", { installed: [], hostTarget: LINUX })),
    COMPILE_EXIT.NO_PREBUILT,
  );
});

Deno.test("compileArgs on this checkout's node_modules keeps only the host's CPU prebuilt", () => {
  const installed = [...Deno.readDirSync(`${ROOT}${NM}`)].map((e) => e.name);
  const plan = compileArgs("main.ts", { installed, hostTarget: Deno.build.target });
  assert.equal(plan.prebuilts.length, 1, plan.prebuilts.join());
  for (const p of flagValues(plan.args, "--include")) assert.ok(Deno.statSync(`${ROOT}${p}`).isDirectory, p);
});

Deno.test("compile script: the SDK clients only the tests import, and what only they need, stay out of the binary", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const denoJson = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const skip = await testOnlyEntries(`${root}node_modules/.deno`, denoJson);
  const has = (prefix: string) => skip.some((e) => e.startsWith(prefix));
  assert.ok(has("ai@") && has("@langchain+core@") && has("openai@"), skip.join(" "));
  assert.ok(!has("node-llama-cpp@") && !has("zod@3.") && !has("cli-progress@"), skip.join(" "));
  const plan = compileArgs("main.ts", { installed: INSTALLED, hostTarget: LINUX, testOnly: ["ai@7.0.185"] });
  assert.ok(plan.args.includes("node_modules/.deno/ai@7.0.185/node_modules/ai"));
});

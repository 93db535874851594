import assert from "node:assert/strict";
import { parseManifest } from "./manifest.ts";
import { denoExecutable, permissionFlags, sandboxCommand, withRead } from "./sandbox.ts";

function manifest(patch: Record<string, unknown> = {}) {
  return parseManifest(
    JSON.stringify({
      name: "m",
      version: "1",
      api_version: 1,
      hooks: ["registry"],
      schemes: ["m"],
      entry: "main.ts",
      ...patch,
    }),
    "/plugins/m/lode-plugin.json",
  );
}

const HOST = { HOME: "/home/u", PATH: "/usr/bin", HF_TOKEN: "hf_x", MIRROR_TOKEN: "t", OTHER: "o" };

Deno.test("no permission declared: deno run with no --allow flag at all, no prompt", () => {
  const c = sandboxCommand(manifest(), { deno: "/bin/deno", env: HOST });
  assert.equal(c.program, "/bin/deno");
  assert.deepEqual(c.args, ["run", "--no-prompt", "--quiet", "/plugins/m/main.ts"]);
  assert.equal(c.cwd, "/plugins/m");
  assert.ok(!c.args.some((a) => a.startsWith("--allow")));
});

Deno.test("each declared permission becomes its --allow flag; paths resolve in the plugin's folder", () => {
  const m = manifest({
    permissions: {
      net: [{ host: "a.test", reason: "r" }, { host: "127.0.0.1:8080", reason: "r" }],
      read: [{ path: "data", reason: "r" }, { path: "/etc/ssl", reason: "r" }],
      write: [{ path: "cache", reason: "r" }],
      env: [{ name: "MIRROR_TOKEN", reason: "r" }],
      run: [{ command: "git", reason: "r" }],
      ffi: [{ path: "lib/x.so", reason: "r" }],
    },
  });
  assert.deepEqual(permissionFlags(m), [
    "--allow-net=a.test,127.0.0.1:8080",
    "--allow-read=/plugins/m/data,/etc/ssl",
    "--allow-write=/plugins/m/cache",
    "--allow-env=MIRROR_TOKEN",
    "--allow-run=git",
    "--allow-ffi=/plugins/m/lib/x.so",
  ]);
});

Deno.test("the environment: declared names only, never a secret, and the runtime's own", () => {
  const m = manifest({
    permissions: { env: [{ name: "MIRROR_TOKEN", reason: "r" }, { name: "UNSET", reason: "r" }] },
  });
  assert.deepEqual(sandboxCommand(m, { deno: "deno", env: HOST }).env, {
    NO_COLOR: "1",
    DENO_DIR: "/home/u/.cache/deno",
    MIRROR_TOKEN: "t",
  });
  const exec = manifest({ entry: "bin/m" });
  const c = sandboxCommand(exec, { deno: "deno", env: HOST });
  assert.equal(c.program, "/plugins/m/bin/m");
  assert.deepEqual(c.args, []);
  assert.deepEqual(c.env, { NO_COLOR: "1", PATH: "/usr/bin" });
});

Deno.test("denoExecutable: LODE_DENO, else this deno, else deno on PATH (a compiled lode is not a deno)", () => {
  assert.equal(denoExecutable({ LODE_DENO: "/opt/deno" }, "/usr/bin/deno"), "/opt/deno");
  assert.equal(denoExecutable({}, "/usr/local/bin/deno"), "/usr/local/bin/deno");
  assert.equal(denoExecutable({}, "/usr/local/bin/lode"), "deno");
});

Deno.test("withRead adds paths to the --allow-read list, or the flag before the entry; exec plugins unchanged", () => {
  const bare = sandboxCommand(manifest(), { deno: "/bin/deno", env: HOST });
  assert.deepEqual(withRead(bare, ["/store/blobs"]).args, [
    "run",
    "--no-prompt",
    "--quiet",
    "--allow-read=/store/blobs",
    "/plugins/m/main.ts",
  ]);
  const reading = sandboxCommand(manifest({ permissions: { read: [{ path: "data", reason: "r" }] } }), {
    deno: "/bin/deno",
    env: HOST,
  });
  const granted = withRead(withRead(reading, ["/store/blobs"]), ["/store/blobs", "/store/links"]);
  assert.ok(
    granted.args.includes("--allow-read=/plugins/m/data,/store/blobs,/store/links"),
    granted.args.join(" "),
  );
  const exec = { program: "/plugins/m/run", args: [], cwd: "/plugins/m", env: {} };
  assert.equal(withRead(exec, ["/store/blobs"]), exec);
});

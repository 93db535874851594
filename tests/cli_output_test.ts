/**
 * What people see: a progress bar only on a terminal (run under `script`, a
 * real pseudo-terminal), plain lines otherwise, nothing but the result with
 * --quiet, and help with an example for every command.
 */
import assert from "node:assert/strict";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { MAIN_TS, runLode, storeEvents } from "./support/lode_cli.ts";
import { PROGRAM } from "../src/cli/program.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;
const SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

async function hasScript(): Promise<boolean> {
  return await new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
}

Deno.test("a terminal gets a progress bar; a pipe gets plain lines; --quiet only the result", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-tty-" });
  const ca = await makeTestCa(`${dir}/ca`);
  const origin = await startOrigin({ tls: ca, routes: { "/m.gguf": { file: FIXTURE } } });
  try {
    const ref = `${origin.url}/m.gguf#sha256=${SHA}`;
    if (await hasScript()) {
      const line = [
        Deno.execPath(),
        "run",
        "-A",
        MAIN_TS,
        "--store",
        `${dir}/tty`,
        "--ca-cert",
        ca.caCertPath,
        "pull",
        ref,
      ]
        .map((a) => `'${a}'`).join(" ");
      const out = await new Deno.Command("script", {
        args: ["-qec", line, "/dev/null"],
        env: { NO_COLOR: "1", XDG_CONFIG_HOME: `${dir}/none` },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, text);
      assert.match(text, /m\.gguf .* 100% \| 1\.1 MiB\/1\.1 MiB \| [\d.]+ [KMG]?i?B\/s \| ETA/);
    } else {
      console.log("skipped the terminal half: `script` (util-linux) is not installed");
    }
    const piped = await runLode(["--ca-cert", ca.caCertPath, "pull", ref], { store: `${dir}/pipe` });
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(!piped.stderr.includes("\x1b["), "no escape codes on a pipe");
    assert.match(piped.stderr, /^downloading m\.gguf \(1\.1 MiB\)$/m);
    const quiet = await runLode(["--ca-cert", ca.caCertPath, "pull", ref, "-q"], { store: `${dir}/quiet` });
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, "");
    assert.match(quiet.stdout, new RegExp(`^m  sha256:${SHA}  1\\.1 MiB  verified\\n$`));
  } finally {
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every command has --help with an example; bad usage exits 2", async () => {
  const store = await Deno.makeTempDir();
  try {
    for (const command of PROGRAM.commands) {
      const r = await runLode([command.name, "--help"], { store });
      assert.equal(r.code, 0, command.name);
      assert.match(r.stdout, new RegExp(`^Usage: lode ${command.name} `), command.name);
      assert.match(r.stdout, /Examples:\n {2}\$ /, command.name);
    }
    const version = await runLode(["--version"], { store });
    assert.equal(version.stdout, `${PROGRAM.version}\n`);
    for (
      const args of [["frob"], ["pull"], ["ls", "--bogus"], ["run", "m", "p", "extra"], ["pull", "--sha256"]]
    ) {
      const r = await runLode(args, { store });
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, /^error\[USAGE\]: .*\n {2}hint: Run `lode/, args.join(" "));
    }
    const json = await runLode(["ls", "--bogus", "--json"], { store });
    assert.equal(json.code, 2);
    assert.deepEqual(storeEvents(json.stdout).map((e) => e.event === "error" && e.code), ["USAGE"]);
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});

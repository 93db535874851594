import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { daemonMayServe } from "./model_session.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("onInterrupt: one Ctrl-C is one call, even after node-llama-cpp loaded signal-exit (which re-raises SIGINT)", async () => {
  const code = `
    import { onInterrupt } from "./src/cli/model_session.ts";
    await import("node-llama-cpp");
    let calls = 0;
    const stop = onInterrupt(() => calls++);
    Deno.kill(Deno.pid, "SIGINT");
    await new Promise((r) => setTimeout(r, 300));
    stop();
    console.log(calls);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "1");
});

Deno.test("daemonMayServe: names always; references only with an explicit --socket and no --name/--sha256; file: and --no-daemon never", () => {
  const socket = { daemon: { socket: "/tmp/l.sock" } };
  assert.equal(daemonMayServe("stories260K", {}), true);
  assert.equal(daemonMayServe("stories260K", { daemon: { use: false, socket: "/tmp/l.sock" } }), false);
  assert.equal(daemonMayServe("hf:o/r:Q8_0", { daemon: { use: false, socket: "/tmp/l.sock" } }), false);
  assert.equal(daemonMayServe("hf:o/r:Q8_0", {}), false);
  assert.equal(daemonMayServe("hf:o/r:Q8_0", socket), true);
  assert.equal(daemonMayServe("https://h/m.gguf#sha256=" + "a".repeat(64), socket), true);
  assert.equal(daemonMayServe("https://h/m.gguf", { ...socket, pull: { name: "m" } }), false);
  assert.equal(daemonMayServe("file:/tmp/m.gguf", socket), false);
});

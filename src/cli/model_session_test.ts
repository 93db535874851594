import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

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

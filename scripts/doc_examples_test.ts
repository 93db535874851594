/**
 * The `@example` blocks in the JSDoc of `main.ts` and `src/` type-check (`deno check --doc-only`),
 * so an example cannot drift from the code it shows. `deno task ok` runs the same check.
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("every @example in main.ts and src/ type-checks (deno check --doc-only)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--doc-only", "main.ts", "src/"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  const errors = text.split("\n").filter((line) => !line.startsWith("Check ")).join("\n").trim();
  assert.ok(out.success, `deno check --doc-only main.ts src/ failed:\n${errors}`);
});

/**
 * `deno task test` (scripts/run_tests.ts): runs the whole suite (`deno test -A`) and ends with the
 * plain summary line CI reads: `N passed, N failed`. Extra arguments go to
 * `deno test` (e.g. `deno task test tests/pull_test.ts`).
 * @module
 */
const args = Deno.args.length > 0 ? Deno.args : [];
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--no-check=remote", ...args],
  stdout: "piped",
  stderr: "inherit",
  env: { NO_COLOR: "1" },
}).spawn();

let passed = 0;
let failed = 0;
let ignored = 0;
let summarySeen = false;
const decoder = new TextDecoder();
let pending = "";
for await (const chunk of child.stdout) {
  const text = decoder.decode(chunk, { stream: true });
  await Deno.stdout.write(chunk);
  pending += text;
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) {
    // Deno's own summary: "ok | 12 passed (3 steps) | 0 failed (2s)"
    const m = /^(?:ok|FAILED) \| (\d+) passed.*\| (\d+) failed(?:.*\| (\d+) ignored)?/.exec(line);
    if (m) {
      passed += Number(m[1]);
      failed += Number(m[2]);
      ignored += Number(m[3] ?? 0);
      summarySeen = true;
    }
  }
}
const status = await child.status;
if (!summarySeen && !status.success) failed += 1;
console.log(`${passed} passed, ${failed} failed${ignored ? `, ${ignored} skipped` : ""}`);
Deno.exit(status.success && failed === 0 ? 0 : 1);

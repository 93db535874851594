/**
 * A stand-in daemon for tests: starts a runner session for the model at `Deno.args[0]`, prints the
 * runner's pid, and waits to be killed (tests SIGKILL it and check the runner does not outlive it).
 *
 * @example
 * ```sh
 * deno run -A tests/support/hold_runner.ts tests/fixtures/stories260K.gguf
 * ```
 * @module
 */
import { startRunnerSession } from "../../src/daemon/runner/runner_session.ts";

if (import.meta.main) {
  const session = await startRunnerSession(Deno.args[0]!, { load: { threads: 1, gpu: "off" } });
  console.log(session.pid);
  await new Promise(() => {}); // until killed
}

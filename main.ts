/**
 * lode's composition root: reads the process's arguments and environment, runs
 * the CLI, and is the only place that exits the process.
 * @module
 */
import { runCli } from "./src/cli/app.ts";
import { PROXY_ENV_NAMES } from "./src/config_env.ts";
import { RUNNER_SUBCOMMAND } from "./src/daemon/runner/runner_command.ts";

if (import.meta.main && Deno.args[0] === RUNNER_SUBCOMMAND) {
  // A model's runner process, started by the daemon (hidden: not a command of the CLI).
  const { runnerMain } = await import("./src/daemon/runner/runner_main.ts");
  Deno.exit(await runnerMain({ args: Deno.args.slice(1) }));
} else if (import.meta.main) {
  const env = Deno.env.toObject();
  // lode decides per URL which proxy applies (HTTPS_PROXY / NO_PROXY, read by src/config_env.ts). Deno
  // would re-apply the variables to every client it makes, so they leave the process's environment.
  for (const name of PROXY_ENV_NAMES) Deno.env.delete(name);
  const code = await runCli(Deno.args, { env });
  Deno.exit(code);
}

/**
 * lode's composition root: reads the process's arguments and environment, runs
 * the CLI, and is the only place that exits the process.
 * @module
 */
import { runCli } from "./src/cli/app.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args, { env: Deno.env.toObject() });
  Deno.exit(code);
}

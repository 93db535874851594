/**
 * The model-external-command runner: runs a program given the model's path (`{model}` in an argument,
 * and `$LODE_MODEL_PATH`), its stdout and stderr written to `stdout.txt` and `stderr.txt` in the job's
 * directory (the artifacts); its exit status is the result. A program that cannot be found fails with
 * `EXTERNAL_COMMAND_NOT_FOUND`, one that exits non-zero with `EXTERNAL_COMMAND_FAILED` (its output kept);
 * cancelling sends it SIGTERM.
 * @module
 */
import { LodeError } from "../errors.ts";
import { joinPath } from "../path.ts";
import { fileArtifact, type JobContext, resolveSpecPath } from "./job_context.ts";
import type { SpecOf } from "./job_spec.ts";

/** What a finished program left. */
export interface ExternalResult {
  command: string;
  args: string[];
  model_path: string;
  exit_code: number;
  signal: string | null;
  stdout_bytes: number;
  stderr_bytes: number;
}

/** Runs `spec`'s program to its end. */
export async function runExternalCommand(
  ctx: JobContext,
  spec: SpecOf<"model-external-command">,
): Promise<ExternalResult> {
  ctx.progress(0, 3, "finding the model");
  const modelPath = await ctx.store.modelPathOf(spec.model);
  ctx.signal.throwIfAborted();
  const command = spec.command.includes("/") ? resolveSpecPath(ctx, spec.command) : spec.command;
  const args = spec.args.map((a) => a.replaceAll("{model}", modelPath));
  const stdoutPath = joinPath(ctx.dir, "stdout.txt");
  const stderrPath = joinPath(ctx.dir, "stderr.txt");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      cwd: spec.cwd === undefined ? ctx.cwd : resolveSpecPath(ctx, spec.cwd),
      env: { ...spec.env, LODE_MODEL_PATH: modelPath },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      const why = e instanceof Deno.errors.NotFound ? "was not found" : "cannot be run (permission denied)";
      throw new LodeError("EXTERNAL_COMMAND_NOT_FOUND", `the job's program "${spec.command}" ${why}`, {
        details: { command: spec.command, resolved: command },
        cause: e,
      });
    }
    throw e;
  }
  const kill = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
  };
  ctx.signal.addEventListener("abort", kill, { once: true });
  if (ctx.signal.aborted) kill();
  ctx.progress(1, 3, `running ${spec.command}`);
  let status: Deno.CommandStatus;
  try {
    const [out, err] = await Promise.all([
      Deno.open(stdoutPath, { write: true, create: true, truncate: true }),
      Deno.open(stderrPath, { write: true, create: true, truncate: true }),
    ]);
    [status] = await Promise.all([
      child.status,
      child.stdout.pipeTo(out.writable),
      child.stderr.pipeTo(err.writable),
    ]);
  } finally {
    ctx.signal.removeEventListener("abort", kill);
  }
  ctx.progress(2, 3, `${spec.command} exited with ${status.code}`);
  const stdout = await fileArtifact("stdout", stdoutPath, "text/plain");
  const stderr = await fileArtifact("stderr", stderrPath, "text/plain");
  ctx.artifact(stdout);
  ctx.artifact(stderr);
  ctx.signal.throwIfAborted();
  const result: ExternalResult = {
    command: spec.command,
    args,
    model_path: modelPath,
    exit_code: status.code,
    signal: status.signal ?? null,
    stdout_bytes: stdout.size ?? 0,
    stderr_bytes: stderr.size ?? 0,
  };
  if (!status.success) {
    throw new LodeError(
      "EXTERNAL_COMMAND_FAILED",
      `the job's program "${spec.command}" exited with ${
        status.signal ? `signal ${status.signal}` : `status ${status.code}`
      }`,
      { details: { ...result, stdout: stdoutPath, stderr: stderrPath } },
    );
  }
  ctx.progress(3, 3, "done");
  return result;
}

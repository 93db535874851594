/**
 * The llama.cpp backend run in runner processes, as a {@link Backend}: each `load` starts a runner of its
 * own (one model a runner, as the daemon runs them) and `probe` asks a short-lived one, every call going
 * through the plugin protocol's backend part. The daemon's router starts runners itself
 * (`startRunnerSession`); this is the same path as one backend, so the backend conformance suite
 * (src/inference/backend_conformance.ts) runs against the runner through the protocol.
 *
 * @example
 * ```ts
 * import { createRunnerBackend } from "./runner_backend.ts";
 * const backend = createRunnerBackend();
 * const session = await backend.load("tests/fixtures/stories260K.gguf", { threads: 1 });
 * console.log((await session.generate("Once upon a time", { maxTokens: 8 }).result).text);
 * await backend.close();
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { Backend, LoadOptions, ProbeResult } from "../../inference/backend.ts";
import { LLAMA_CPP_BACKEND_NAME } from "../../inference/llama_cpp_backend.ts";
import { pluginBackend } from "../../inference/plugin_backend.ts";
import { RunnerClient } from "./runner_client.ts";
import { type RunnerCommand, runnerCommand } from "./runner_command.ts";
import { runnerHooks } from "./runner_hooks.ts";
import { type RunnerSession, startRunnerSession } from "./runner_session.ts";

/** Options of {@link createRunnerBackend}. */
export interface RunnerBackendOptions {
  /** The runner executable (default {@link runnerCommand}). */
  command?: RunnerCommand;
  /** Each line a runner writes to its log. */
  onLog?: (line: string) => void;
}

/** The llama.cpp backend in runner processes. */
export function createRunnerBackend(options: RunnerBackendOptions = {}): Backend {
  const command = options.command ?? runnerCommand();
  const sessions = new Set<RunnerSession>();
  let closed = false;
  return {
    name: LLAMA_CPP_BACKEND_NAME,
    async probe(path: string): Promise<ProbeResult> {
      const client = await RunnerClient.start(command, { onLog: options.onLog, label: path });
      try {
        return await pluginBackend(runnerHooks(client), { plugin: "runner" }).probe(path);
      } finally {
        await client.close();
      }
    },
    async load(path: string, load: LoadOptions = {}) {
      if (closed) throw new LodeError("INFERENCE_FAILED", "the backend is closed");
      const { onStatus, signal, ...rest } = load;
      const session = await startRunnerSession(path, {
        load: rest,
        command,
        ...(onStatus ? { onStatus } : {}),
        ...(signal ? { signal } : {}),
        ...(options.onLog ? { onLog: options.onLog } : {}),
      });
      sessions.add(session);
      void session.exited.then(() => sessions.delete(session));
      return session;
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.allSettled([...sessions].map((s) => s.close()));
    },
  };
}

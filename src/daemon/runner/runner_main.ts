/**
 * The runner process (`lode __runner --socket PATH`): a backend plugin built into lode. It hosts one
 * model of one backend and speaks the plugin protocol's backend part (runner_protocol.ts) over the Unix
 * socket the daemon listens on, so a crash in native code takes down this process, not the daemon. It
 * says hello at once (protocol versions, features), then answers calls (runner_host.ts) concurrently with
 * reading (a `cancel` reaches a running generation); `exit`, or the end of the connection (the daemon
 * went away, even by SIGKILL), stops it at once. It is not sandboxed: it is lode itself, started from
 * lode's own executable. stdout and stderr are the runner's log, which the daemon keeps a tail of.
 *
 * @example
 * ```ts
 * import { runnerMain } from "./runner_main.ts";
 * Deno.exit(await runnerMain({ args: Deno.args.slice(1) })); // what main.ts does for `lode __runner`
 * ```
 * @module
 */
import type { Backend } from "../../inference/backend.ts";
import { createLlamaCppBackend } from "../../inference/llama_cpp_backend.ts";
import { API_VERSION, PROTOCOL_VERSIONS } from "../../plugin/api.ts";
import { commonFeatures, commonVersion, type Feature } from "../../plugin/plugin_protocol.ts";
import { VERSION } from "../../version.ts";
import { NdjsonConnection } from "../wire/ndjson_connection.ts";
import { RunnerHost } from "./runner_host.ts";
import {
  decodeHostFrame,
  frameLine,
  RUNNER_FEATURES,
  RUNNER_MAX_LINE_BYTES,
  type RunnerFrame,
  toWireError,
} from "./runner_protocol.ts";

/** Options of {@link runnerMain}. */
export interface RunnerMainOptions {
  /** The arguments after `__runner`: `--socket PATH`, the daemon's socket to connect to. */
  args: string[];
  /** The backend hosting the model (default: node-llama-cpp). */
  backend?: () => Backend;
}

/**
 * Serves one runner until `exit` or the end of the connection; returns the exit code (0; 2 without a
 * socket to connect to; 3 when the daemon speaks no protocol version this runner speaks).
 *
 * @example
 * ```ts
 * const code = await runnerMain({ args: ["--socket", "/tmp/lode-runner-x/runner.sock"] });
 * ```
 */
export async function runnerMain(options: RunnerMainOptions): Promise<number> {
  const at = options.args.indexOf("--socket");
  const path = at === -1 ? undefined : options.args[at + 1];
  if (path === undefined) {
    console.error(
      "lode __runner is started by the daemon (`lode serve`), not by hand: it needs --socket PATH",
    );
    return 2;
  }
  const socket = await Deno.connect({ transport: "unix", path });
  const conn = new NdjsonConnection(socket, { maxLineBytes: RUNNER_MAX_LINE_BYTES });
  const send = (frame: RunnerFrame) => void conn.enqueue(frameLine(frame));
  const backend = options.backend ?? (() => createLlamaCppBackend());
  send({
    type: "hello",
    protocol: [...PROTOCOL_VERSIONS],
    api_version: API_VERSION,
    name: "runner",
    version: VERSION,
    hooks: ["backend"],
    features: [...RUNNER_FEATURES],
  });
  let host: RunnerHost | null = null;
  const decoder = new TextDecoder();
  for await (const item of conn.lines()) {
    if (item.type !== "line") continue;
    const decoded = decodeHostFrame(decoder.decode(item.bytes));
    if (!decoded.ok) {
      console.error(`lode runner: ignoring a malformed frame: ${decoded.error.message}`);
      if (decoded.id !== null) {
        send({ type: "error", id: decoded.id, error: toWireError(decoded.error, false) });
      }
      continue;
    }
    const frame = decoded.frame;
    switch (frame.type) {
      case "hello": {
        if (commonVersion(PROTOCOL_VERSIONS, frame.protocol) === null) {
          console.error(
            `lode runner: the daemon speaks protocol ${frame.protocol.join(", ")}; this runner speaks ${
              PROTOCOL_VERSIONS.join(", ")
            }`,
          );
          await conn.end();
          return 3;
        }
        const features: Feature[] = commonFeatures(RUNNER_FEATURES, frame.features);
        host ??= new RunnerHost(backend(), send, features);
        break;
      }
      case "call":
        if (host === null) {
          send({
            type: "error",
            id: frame.id,
            error: { kind: "bad_request", message: "a call before the hello" },
          });
        } else host.call(frame.id, frame.hook, frame.params);
        break;
      case "cancel":
        host?.cancel(frame.id);
        break;
      case "exit":
        await host?.close();
        await conn.end();
        return 0;
    }
  }
  host?.abortAll(); // the daemon is gone: nobody is left to answer
  return 0;
}

/**
 * `lode status [--watch]`: the daemon's admin stream for people. Without
 * `--watch` it prints the snapshot (status, capabilities, pid and uptime,
 * queue, models) and exits; with `--watch` it then prints every status event
 * as it happens, until the daemon stops (exit 0) or Ctrl-C. `--json` prints
 * the admin frames as they arrive, as status lines (`{"event":"status",
 * "status":…}`, src/events/status_event.ts): the frame without its wire
 * envelope (`id`, `type`), published on the command's stream as `daemon` events. No daemon: `DAEMON_NOT_RUNNING`, exit 3.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { StatusLine } from "../../events/status_event.ts";
import { DaemonClient } from "../../daemon/wire/client.ts";
import { readInstanceRecord } from "../../daemon/wire/instance_lock.ts";
import type { FrameOf, ModelEntry } from "../../daemon/wire/protocol.ts";
import { NdjsonConnection } from "../../daemon/wire/ndjson_connection.ts";
import { formatDuration } from "../../store/gc_duration.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { socketPaths } from "../daemon_flags.ts";
import { formatBytes } from "../output.ts";

type AdminFrame = Record<string, unknown> & { status: string };

/** Why a model is loaded again (the `reason` of a `restarting` frame), for people. */
const RESTART_REASONS: Record<string, string> = {
  crashed: "its runner crashed",
  context_size: "for another context size",
  reload_failed: "back as it was: the reload failed",
};

/** Why a model was unloaded (the `reason` of an `unloaded` frame), for people. */
const UNLOAD_REASONS: Record<string, string> = {
  idle: "idle for its keep-alive",
  evicted: "evicted to make room",
  unload: "unload asked",
  removed: "no longer in the store",
  changed: "the store holds another file under its name",
};

/**
 * One admin frame as a line for people.
 *
 * @example
 * ```ts
 * import { describeStatus } from "./status.ts";
 * describeStatus({ status: "loading_model", phase: "kv_cache", n_ctx: 2048, model: "qwen3" });
 * // "qwen3: loading — kv_cache, 2048 tokens of context"
 * ```
 */
export function describeStatus(frame: AdminFrame): string {
  const who = typeof frame.model === "string" ? `${frame.model}: ` : "";
  switch (frame.status) {
    case "loading_model":
      return `${who}loading — ${describePhase(frame)}`;
    case "restarting": {
      const why = typeof frame.reason === "string"
        ? ` (${RESTART_REASONS[frame.reason] ?? frame.reason})`
        : "";
      return `${who}restarting${why} — ${describePhase(frame)}`;
    }
    case "capabilities":
      return `${who}capabilities: backend ${frame.backend}, ${frame.accelerator} (${frame.gpu_layers} GPU layers)` +
        `${frame.embed ? ", embeddings" : ""}${frame.vision ? ", vision" : ""}${
          frame.tools ? ", tools" : ""
        }`;
    case "ready":
      return who ? `${who}ready` : "ready: accepting requests";
    case "load_failed":
      return `${who}load failed — ${frame.code}: ${frame.message}`;
    case "unloaded": {
      const why = typeof frame.reason === "string"
        ? ` (${UNLOAD_REASONS[frame.reason] ?? frame.reason})`
        : "";
      return `${who}unloaded${why}`;
    }
    case "draining":
      return "draining: finishing requests in flight, refusing new ones";
    case "starting":
      return "starting";
    default:
      return `${who}${frame.status}`;
  }
}

function describePhase(f: AdminFrame): string {
  switch (f.phase) {
    case "download": {
      const done = Number(f.downloaded_bytes);
      const total = typeof f.total_bytes === "number" && f.total_bytes > 0 ? f.total_bytes : null;
      const of = total === null ? "" : ` of ${formatBytes(total)} (${(done / total * 100).toFixed(0)}%)`;
      return `download ${formatBytes(done)}${of} from ${f.source_url}`;
    }
    case "kv_cache":
      return `kv_cache, ${f.n_ctx} tokens of context`;
    case "quarantine":
      return `quarantine: ${f.path} has sha256 ${f.actual_sha256}, expected ${f.expected_sha256}`;
    default:
      return `${f.phase} ${f.path ?? ""}`.trim();
  }
}

/**
 * `lode status`.
 */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const paths = socketPaths(parsed.options, ctx.config);
  const watch = parsed.options.watch === true;
  let raw: Deno.Conn;
  try {
    raw = await Deno.connect({ transport: "unix", path: paths.adminSocket });
  } catch (e) {
    throw new LodeError(
      "DAEMON_NOT_RUNNING",
      `no lode daemon is running (nothing answers on ${paths.adminSocket})`,
      {
        details: { admin_socket: paths.adminSocket, socket: paths.socket },
        cause: e,
      },
    );
  }
  const conn = new NdjsonConnection(raw, { maxLineBytes: 1024 * 1024 });
  const onCtrlC = () => conn.close();
  if (watch) Deno.addSignalListener("SIGINT", onCtrlC);
  const stopListening = () => watch && Deno.removeSignalListener("SIGINT", onCtrlC);
  try {
    let snapshotSeen = false;
    let capabilities: AdminFrame | null = null;
    const decoder = new TextDecoder();
    for await (const item of conn.lines()) {
      if (item.type !== "line") continue;
      const { id: _id, type: _type, ...frame } = JSON.parse(decoder.decode(item.bytes)) as AdminFrame;
      // The daemon's status line, relayed on the command's stream (source `daemon`).
      ctx.emit("daemon", { event: "status", ...frame } as StatusLine);
      if (!snapshotSeen) {
        if (frame.status === "capabilities") {
          capabilities = frame;
          continue;
        }
        snapshotSeen = true;
        if (!ctx.output.json) await printSnapshot(ctx, frame, capabilities, paths);
        if (!watch) break;
        continue;
      }
      if (!ctx.output.json) ctx.output.result(`${new Date().toLocaleTimeString()}  ${describeStatus(frame)}`);
    }
    if (watch && !conn.closed && !ctx.output.json) ctx.output.result("the daemon stopped");
  } finally {
    stopListening();
    conn.close();
  }
}

async function printSnapshot(
  ctx: CommandContext,
  snapshot: AdminFrame,
  capabilities: AdminFrame | null,
  paths: { socket: string; adminSocket: string; lock: string },
): Promise<void> {
  const record = await readInstanceRecord(paths.lock).catch(() => null);
  let health: FrameOf<"health"> | null = null;
  let models: ModelEntry[] = [];
  if (snapshot.status !== "starting") {
    const client = await DaemonClient.connect(paths.socket).catch(() => null);
    if (client) {
      try {
        health = await client.health();
        await client.request({ op: "models" }, {
          onFrame: (f) => f.type === "models" && (models = f.models),
        });
      } catch {
        /* draining, or gone: the admin snapshot says enough */
      } finally {
        client.close();
      }
    }
  }
  const who = record ? `pid ${record.pid}` : "pid unknown";
  const up = health?.uptime_ms !== undefined ? `, up ${formatDuration(health.uptime_ms)}` : "";
  const version = health ? `, lode ${health.version}, protocol ${health.protocol}` : "";
  // The snapshot may be a model's event (a load after `ready`); the daemon's own state is health's.
  const own = health?.status ?? (typeof snapshot.model === "string" ? "starting" : snapshot.status);
  ctx.output.result(`daemon: ${describeStatus({ status: own })} (${who}${up}${version})`);
  if (typeof snapshot.model === "string") ctx.output.result(`latest: ${describeStatus(snapshot)}`);
  ctx.output.result(`socket: ${paths.socket}  admin: ${paths.adminSocket}`);
  if (capabilities) ctx.output.result(describeStatus(capabilities));
  if (health) ctx.output.result(`queue: ${health.queued ?? 0} waiting, ${health.running ?? 0} running`);
  if (health?.store) ctx.output.result(`store: ${health.store}`);
  for (const m of models) {
    const state = m.loaded
      ? `loaded${m.context_size ? `, n_ctx ${m.context_size}` : ""}${
        typeof m.expires_in_ms === "number" ? `, unloads in ${formatDuration(m.expires_in_ms)} if idle` : ""
      }`
      : "not loaded";
    ctx.output.result(`model: ${m.name} (${state})`);
  }
}

/**
 * `lode pull REF --socket S` and `lode pull REF --detach`: the pull runs in the daemon as a
 * model-download job, which survives this client. Attached (without `--detach`), the job's download
 * events are shown as a local pull's are (the bar, or `--json` lines) until it ends, and its result is
 * printed as `lode pull` prints one. Ctrl-C cancels a job this command started (its partial kept, as a
 * local pull's) and leaves one it joined (another client's pull of the same model) running. A client that
 * dies or whose output closes leaves the job running: `lode job watch ID` reattaches, `lode job cancel ID`
 * stops it. With `--detach` the job's id is printed and the command returns at once.
 * @module
 */
import { ERROR_CODES, LodeError } from "../errors.ts";
import type { DownloadEvent } from "../events/download_event.ts";
import type { JobRecord } from "../jobs/job_record.ts";
import type { CommandContext } from "./context.ts";

/** Options of {@link pullInDaemon}. */
export interface DaemonPullOptions {
  name?: string;
  sha256?: string;
  /** `--socket`: this daemon must answer, whatever store it serves. */
  socket?: string;
  detach: boolean;
}

/** What a pull job returns (`PullResult` of the download core, as JSON). */
export interface PulledInDaemon {
  name: string;
  sha256: string;
  sizeBytes: number;
  cached: boolean;
  pinned: boolean;
  files: unknown[];
}

/**
 * Pulls `refs` through the daemon; resolves with each one's result (in the order given) or, detached,
 * with none. A failed job rejects with its error.
 */
export async function pullInDaemon(
  ctx: CommandContext,
  refs: string[],
  options: DaemonPullOptions,
): Promise<PromiseSettledResult<PulledInDaemon>[]> {
  const [{ DaemonClient }, { submitJob, watchJob, cancelJob }, { socketPaths, storeIdentity }] = await Promise
    .all([
      import("../daemon/wire/client.ts"),
      import("../daemon/wire/job_client.ts"),
      import("./daemon_flags.ts"),
    ]);
  const path = socketPaths({ socket: options.socket }, ctx.config).socket;
  const client = await DaemonClient.connect(path).catch((e) => {
    throw new LodeError("DAEMON_NOT_RUNNING", `no lode daemon answers on ${path}`, {
      details: { socket: path },
      hint:
        "Start one with `lode serve` (or pass the --socket it listens on), or pull without --detach/--socket.",
      cause: e,
    });
  });
  try {
    const health = await client.health();
    if (options.socket === undefined && health.store !== storeIdentity(ctx.config.storeRoot)) {
      throw new LodeError(
        "DAEMON_NOT_RUNNING",
        `the daemon on ${path} serves another store (${health.store})`,
        {
          details: { socket: path, store: health.store ?? null },
          hint: "Pass its --socket to pull into its store, or pull without --detach.",
        },
      );
    }
    const spec = (ref: string) => ({
      ref,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.sha256 !== undefined ? { sha256: options.sha256 } : {}),
    });
    const submitted = await Promise.all(refs.map((ref) => submitJob(client, "model-download", spec(ref))));
    if (options.detach) {
      for (const [i, { job, shared }] of submitted.entries()) {
        ctx.output.event({ event: "job", ...job, shared });
        ctx.output.result(
          `job ${job.id}  model-download  ${refs[i]}${shared ? "  (joined a running pull)" : ""}`,
        );
      }
      ctx.output.note(
        "they run in the daemon: `lode job watch ID` follows one, `lode job cancel ID` stops it",
      );
      return [];
    }
    return await attach(ctx, submitted, { client, watchJob, cancelJob });
  } finally {
    client.close();
  }
}

type JobClient = typeof import("../daemon/wire/job_client.ts");

async function attach(
  ctx: CommandContext,
  submitted: { job: JobRecord; shared: boolean }[],
  using: {
    client: import("../daemon/wire/client.ts").DaemonClient;
    watchJob: JobClient["watchJob"];
    cancelJob: JobClient["cancelJob"];
  },
): Promise<PromiseSettledResult<PulledInDaemon>[]> {
  const { createPullRenderer } = await import("./pull_renderer.ts");
  const renderer = await createPullRenderer(ctx.output);
  const stopRendering = ctx.events.listen((e) => {
    if (e.source === "download") renderer.onEvent(e.event);
  });
  const stopWatching = new AbortController();
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    stopWatching.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  const quiet = () => stopWatching.abort();
  ctx.output.closed.addEventListener("abort", quiet, { once: true });
  try {
    return await Promise.allSettled(submitted.map(async ({ job, shared }) => {
      let record: JobRecord;
      try {
        record = await using.watchJob(using.client, job.id, {
          signal: stopWatching.signal,
          onItem: (frame) => {
            if (frame.type === "job_download") {
              ctx.events.publish("download", frame.event as DownloadEvent, { jobId: job.id });
            } else ctx.events.publish("job", frame.event, { jobId: job.id });
          },
        });
      } catch (e) {
        if (!stopWatching.signal.aborted) throw e;
        if (!interrupted) {
          throw new LodeError("INTERRUPTED", "the output was closed; the pull goes on in the daemon");
        }
        if (shared) {
          throw new LodeError(
            "INTERRUPTED",
            `stopped watching job ${job.id}; another client's pull, it goes on`,
            {
              details: { id: job.id },
              hint: `\`lode job watch ${job.id}\` follows it again; \`lode job cancel ${job.id}\` stops it.`,
            },
          );
        }
        record = await using.cancelJob(using.client, job.id).catch(() => job);
      }
      return outcome(record);
    }));
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    ctx.output.closed.removeEventListener("abort", quiet);
    stopRendering();
    renderer.stop();
  }
}

/** The result of a finished pull job, or its error. */
function outcome(record: JobRecord): PulledInDaemon {
  if (record.state === "succeeded") return record.result as PulledInDaemon;
  const error = record.error ?? { code: "INTERNAL", message: `job ${record.id} ended ${record.state}` };
  const code = record.state === "cancelled"
    ? "INTERRUPTED"
    : error.code in ERROR_CODES
    ? error.code as keyof typeof ERROR_CODES
    : "INTERNAL";
  throw new LodeError(code, record.state === "cancelled" ? `job ${record.id} was cancelled` : error.message, {
    details: { id: record.id, state: record.state, job_code: error.code },
    ...(record.state === "cancelled"
      ? { hint: "The partial download is kept: pull again to continue." }
      : error.hint
      ? { hint: error.hint }
      : {}),
  });
}

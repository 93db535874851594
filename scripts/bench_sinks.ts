/**
 * The file-log sink's write rate: N download events published on an {@link EventStream} with the
 * sink attached (its subscription large enough to drop nothing), timed from the first publish to
 * the sink's close (every line written); the log file's lines are counted after. Also the webhook
 * sink's rate with the network policy offline: the same events, each made a message and spooled,
 * none sent.
 *
 * With `--pull`: the cost of sinks on a real pull instead. `lode pull` (a child process) of a generated
 * GGUF (`--size`, default 256 MiB) from an HTTPS origin on 127.0.0.1, each round once without sinks and
 * once with `--sink file=…` and `--sink webhook=…` (a real HTTPS receiver that checks signatures), in
 * alternating order, each into a fresh store; the medians of the wall times and their difference.
 *
 * ```sh
 * deno run -A scripts/bench_sinks.ts [--events 200000] [--runs 3]
 * deno run -A scripts/bench_sinks.ts --pull [--size 256MiB] [--runs 5]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { HostPolicy } from "../src/download/host_policy.ts";
import { EventStream } from "../src/events/event_stream.ts";
import { attachSinks, type EventSink } from "../src/plugin/sink_runner.ts";
import { createFileLogSink } from "../plugins/file_log_sink/file_log_sink.ts";
import { createWebhookSink } from "../plugins/webhook_sink/webhook_sink.ts";
import { median } from "./bench_report.ts";
import { parseSize, writeGgufModel } from "./gen_gguf.ts";
import { startOrigin } from "../tests/support/origin.ts";
import { makeTestCa } from "../tests/support/test_ca.ts";
import { startWebhookReceiver } from "../tests/support/webhook_receiver.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** Wall times (ms) of pulls without and with sinks, `runs` rounds (see the module doc). */
export async function pullWithSinks(
  dir: string,
  options: { sizeBytes: number; runs: number },
): Promise<{ without: number[]; with: number[]; delivered: number }> {
  const ca = await makeTestCa(`${dir}/ca`);
  const model = await writeGgufModel(`${dir}/m.gguf`, { sizeBytes: options.sizeBytes });
  const origin = await startOrigin({ tls: ca, routes: { "/m.gguf": { file: model.path } } });
  const receiver = await startWebhookReceiver({ tls: ca, secret: SECRET });
  const times = { without: [] as number[], with: [] as number[] };
  try {
    for (let round = 0; round < options.runs; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      for (const sinks of order) {
        const store = `${dir}/store-${round}-${sinks}`;
        const args = [
          "run",
          "-A",
          MAIN_TS,
          "--ca-cert",
          ca.caCertPath,
          "pull",
          `${origin.url}/m.gguf#sha256=${model.sha256}`,
        ];
        if (sinks) {
          args.push("--sink", `file=${dir}/events-${round}.ndjson`, "--sink", `webhook=${receiver.url}`);
        }
        const start = performance.now();
        const out = await new Deno.Command(Deno.execPath(), {
          args,
          env: {
            MODELS_HOME: store,
            XDG_CONFIG_HOME: `${dir}/no-config`,
            LODE_WEBHOOK_SECRET: SECRET,
            NO_COLOR: "1",
          },
          stdout: "null",
          stderr: "piped",
        }).output();
        const ms = performance.now() - start;
        if (!out.success) throw new Error(`lode pull failed: ${new TextDecoder().decode(out.stderr)}`);
        (sinks ? times.with : times.without).push(ms);
        await Deno.remove(store, { recursive: true });
      }
    }
  } finally {
    await receiver.stop();
    await origin.close();
  }
  if (!receiver.received.every((m) => m.valid)) throw new Error("a webhook signature did not verify");
  return { ...times, delivered: receiver.received.length };
}

/** Events per second through `sink`, `events` of them, all written by the sink's close. */
export async function eventsPerSecond(sink: EventSink, events: number): Promise<number> {
  const stream = new EventStream();
  const attached = attachSinks(stream, [sink], { bufferSize: events + 1 });
  const start = performance.now();
  for (let i = 0; i < events; i++) {
    stream.publish("download", {
      event: "file_progress",
      filename: "stories260K.gguf",
      downloaded_mb: i >> 8,
      total_mb: events >> 8,
      downloaded_bytes: i * 4096,
      total_bytes: events * 4096,
      bytes_per_second: 812_500_000,
    });
    // The producer yields now and then, as a pull does between chunks.
    if (i % 1000 === 999) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await attached.close();
  const seconds = (performance.now() - start) / 1000;
  const stats = attached.stats()[sink.name]!;
  if (stats.dropped > 0 || stats.failed > 0) {
    throw new Error(`the sink dropped or failed: ${JSON.stringify(stats)}`);
  }
  return events / seconds;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      events: { type: "string" },
      runs: { type: "string" },
      pull: { type: "boolean" },
      size: { type: "string" },
    },
  });
  const events = Number(values.events ?? 200_000);
  const runs = Number(values.runs ?? (values.pull ? 5 : 3));
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-sinks-" });
  try {
    if (values.pull) {
      const sizeBytes = parseSize(values.size ?? "256MiB");
      const r = await pullWithSinks(dir, { sizeBytes, runs });
      const [without, withSinks] = [median(r.without), median(r.with)];
      console.log(
        `pull of ${sizeBytes} bytes, medians of ${runs}: without sinks ${Math.round(without)} ms, ` +
          `with a file and a webhook sink ${Math.round(withSinks)} ms ` +
          `(${
            (100 * (withSinks - without) / without).toFixed(1)
          }%; ${r.delivered} webhook messages delivered)`,
      );
      return;
    }
    const fileRates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const path = `${dir}/events-${r}.ndjson`;
      fileRates.push(await eventsPerSecond(await createFileLogSink({ path, maxBytes: 0 }), events));
      const text = await Deno.readTextFile(path);
      const lines = text.split("\n").length - 1;
      if (lines !== events) throw new Error(`${path} has ${lines} lines, expected ${events}`);
    }
    console.log(
      `file-log sink: ${Math.round(median(fileRates))} events/s (median of ${runs}, ${events} events)`,
    );
    const url = "https://127.0.0.1:9/hook"; // offline: every message stays spooled
    const webhookRates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const sink = await createWebhookSink({
        url,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        policy: new HostPolicy({ offline: true }),
        spoolDir: `${dir}/spool-${r}`,
        maxSpoolBytes: 1 << 30,
      });
      webhookRates.push(await eventsPerSecond(sink, events));
    }
    console.log(`webhook sink (spooling): ${Math.round(median(webhookRates))} events/s (median of ${runs})`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();

/**
 * The file-log sink's write rate: N download events published on an {@link EventStream} with the
 * sink attached (its subscription large enough to drop nothing), timed from the first publish to
 * the sink's close (every line written); the log file's lines are counted after. Also the webhook
 * sink's rate with the network policy offline: the same events, each made a message and spooled,
 * none sent.
 *
 * ```sh
 * deno run -A scripts/bench_sinks.ts [--events 200000] [--runs 3]
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

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { events: { type: "string" }, runs: { type: "string" } },
  });
  const events = Number(values.events ?? 200_000);
  const runs = Number(values.runs ?? 3);
  const dir = await Deno.makeTempDir({ prefix: "lode-bench-sinks-" });
  try {
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

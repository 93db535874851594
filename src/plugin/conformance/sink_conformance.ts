/**
 * The sink suite: a sink plugin takes an envelope of the event stream, answers a malformed one with an
 * error or a result (never a fault), answers a cancelled delivery, and closes.
 *
 * @example
 * ```ts
 * import type { Plugin } from "../api.ts";
 * import { sinkConformance } from "./sink_conformance.ts";
 * declare const plugin: Plugin;
 * const checks = await sinkConformance(plugin);
 * ```
 * @module
 */
import type { Envelope } from "../../events/envelope.ts";
import type { Plugin } from "../api.ts";
import { type Check, check, codeOf, expect, FAULT_CODES } from "./check.ts";

/** Runs the sink suite on `plugin`; `healthy` says whether its process is still sound. */
export async function sinkConformance(plugin: Plugin, healthy: () => boolean = () => true): Promise<Check[]> {
  const run = (name: string, body: () => Promise<void>) => check(name, body, "sink");
  const sink = plugin.sink;
  if (!sink) return [{ suite: "sink", name: "implements sink hooks", ok: false, message: "none" }];
  const sound = () => expect(healthy(), "the plugin faulted (its process died or was killed)");
  const envelope = {
    v: 1,
    seq: 1,
    ts: new Date(0).toISOString(),
    source: "cli",
    event: { event: "error", code: "USAGE", message: "conformance", hint: "", details: {} },
  } as unknown as Envelope;
  return [
    await run("sink.event takes an envelope", async () => {
      await sink.event(envelope);
      sound();
    }),
    await run("sink.event answers a malformed envelope without a fault", async () => {
      const code = await codeOf(async () => await sink.event(null as unknown as Envelope));
      expect(code === null || !FAULT_CODES.includes(code), `answered with ${code}`);
      sound();
    }),
    await run("sink.close answers", async () => {
      await sink.close();
    }),
  ];
}

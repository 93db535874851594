/**
 * `lode push NAME oci://HOST[:PORT]/REPO:TAG`: upload a stored model to an OCI registry as a CNCF
 * ModelPack artifact (src/registry/oci/oci_push.ts), blobs the registry has skipped, the manifest last.
 * Progress on a terminal's stderr; `--json` prints the `push_blob`, `push_progress` and `pushed` events.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { transportError } from "../../download/http_get.ts";
import { HostPolicy } from "../../download/host_policy.ts";
import { createHttpClients } from "../../download/proxy.ts";
import type { PushEvent } from "../../events/push_event.ts";
import { plainHttp } from "../../registry/oci/oci_manifest.ts";
import { pushModel } from "../../registry/oci/oci_push.ts";
import { parseRef } from "../../registry/reference.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** `lode push`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const name = parsed.args.name as string;
  const target = parsed.args.target as string;
  const ref = parseRef(target);
  if (ref.kind !== "oci") {
    throw new LodeError("USAGE", `lode push sends models to OCI registries, not to ${target}`, {
      hint: "Name the target as oci://HOST[:PORT]/REPO:TAG (docs/oci.md).",
    });
  }
  const store = await ctx.store();
  await store.getManifest(name); // MODEL_NOT_FOUND before any request
  const { config } = ctx;
  const http = plainHttp(ref.host, config.httpHosts);
  const policy = new HostPolicy({
    allowHosts: config.allowHosts,
    httpHosts: config.httpHosts,
    offline: config.offline,
  }).with([`${http ? "http" : "https"}://${ref.host}/`]);
  const clients = createHttpClients({ caCertPems: config.caCertPems, proxy: config.proxy });
  const registry = await ctx.registryContext([ref.host]);
  const signal = ctx.output.closed;
  const progress = progressLine(ctx);
  try {
    const pushed = await pushModel(store, name, ref, {
      registry: { ...registry, signal },
      async send(method, url, init) {
        policy.check(url);
        try {
          return await fetch(url, {
            method,
            headers: init.headers,
            body: init.body as Uint8Array<ArrayBuffer> | undefined,
            redirect: "manual",
            client: clients.clientFor(url),
            signal,
          });
        } catch (e) {
          throw transportError(e, url);
        }
      },
      emit(event: PushEvent) {
        ctx.emit("store", event);
        progress.update(event);
      },
    });
    progress.end();
    ctx.output.result(
      `pushed ${pushed.name} to ${pushed.reference}  ${pushed.digest}  (${pushed.blobs_uploaded} blob${
        pushed.blobs_uploaded === 1 ? "" : "s"
      } uploaded, ${
        formatBytes(pushed.bytes_uploaded)
      }; ${pushed.blobs_skipped} already there) in ${pushed.ms} ms`,
    );
  } catch (e) {
    if (!ctx.output.closed.aborted) progress.end();
    throw e;
  } finally {
    clients.close();
  }
}

/** A one-line percentage of the blob being sent, on a terminal's stderr, redrawn at most every 200 ms. */
function progressLine(ctx: CommandContext) {
  const live = ctx.output.stderrIsTty && !ctx.output.json && !ctx.output.quiet;
  let last = 0;
  let drawn = false;
  return {
    update(event: PushEvent) {
      if (!live || event.event !== "push_progress") return;
      const now = performance.now();
      if (now - last < 200 && event.done_bytes < event.total_bytes) return;
      last = now;
      drawn = true;
      const pct = event.total_bytes ? Math.floor((100 * event.done_bytes) / event.total_bytes) : 100;
      ctx.output.stderr(
        `\r  pushing ${event.digest.slice(7, 19)} ${pct}% of ${formatBytes(event.total_bytes)}\x1b[K`,
      );
    },
    end() {
      if (drawn) ctx.output.stderr("\r\x1b[K");
      drawn = false;
    },
  };
}

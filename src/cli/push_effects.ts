/**
 * What `lode push` (and a model-push job run from the command line) gives the push of
 * src/registry/oci/oci_push.ts: requests through the host policy (the target's host allowed by the
 * reference, plain http only with `--allow-http`) and the trusted CAs, the command's registry context
 * (credentials, token realm GETs), its signal, and its events — printed with `--json` (source `store`) and,
 * on a terminal, a percentage line on stderr.
 * @module
 */
import { LodeError } from "../errors.ts";
import { transportError } from "../download/http_get.ts";
import { HostPolicy } from "../download/host_policy.ts";
import { createHttpClients } from "../download/proxy.ts";
import type { PushedEvent, PushEvent } from "../events/push_event.ts";
import { plainHttp } from "../registry/oci/oci_manifest.ts";
import { type PushFormat, pushModel } from "../registry/oci/oci_push.ts";
import { parseRef } from "../registry/reference.ts";
import type { CommandContext } from "./context.ts";
import { formatBytes } from "./output.ts";

/** Pushes the stored model `name` to `target` (`oci://…`) with the command's effects. */
export async function pushWithCommand(
  ctx: CommandContext,
  spec: { model: string; target: string; format: PushFormat },
  options: { signal: AbortSignal; onEvent?: (event: PushEvent) => void },
): Promise<PushedEvent> {
  const ref = parseRef(spec.target);
  if (ref.kind !== "oci") {
    throw new LodeError("USAGE", `lode push sends models to OCI registries, not to ${spec.target}`, {
      hint: "Name the target as oci://HOST[:PORT]/REPO:TAG (docs/oci.md).",
    });
  }
  const store = await ctx.store();
  await store.getManifest(spec.model); // MODEL_NOT_FOUND before any request
  const { config } = ctx;
  const http = plainHttp(ref.host, config.httpHosts);
  const policy = new HostPolicy({
    allowHosts: config.allowHosts,
    httpHosts: config.httpHosts,
    offline: config.offline,
  }).with([`${http ? "http" : "https"}://${ref.host}/`]);
  const clients = createHttpClients({ caCertPems: config.caCertPems, proxy: config.proxy });
  // Uploads go over HTTP/1.1 where no proxy is in the way: over HTTP/2 a request body waits on the
  // server's flow-control window (Go's registries give a stream 1 MiB), which costs a large push time.
  let direct = null as Deno.HttpClient | null;
  const clientFor = (url: URL) =>
    clients.proxyFor(url) !== null ? clients.clientFor(url) : (direct ??= Deno.createHttpClient({
      ...(config.caCertPems.length > 0 ? { caCerts: config.caCertPems } : {}),
      http2: false,
    }));
  const registry = await ctx.registryContext([ref.host]);
  const signal = AbortSignal.any([options.signal, ctx.output.closed]);
  const progress = progressLine(ctx);
  try {
    const pushed = await pushModel(store, spec.model, ref, {
      registry: { ...registry, signal },
      async send(method, url, init) {
        policy.check(url);
        try {
          return await fetch(url, {
            method,
            headers: init.headers,
            body: init.body as BodyInit | undefined,
            redirect: "manual",
            client: clientFor(url),
            signal,
          });
        } catch (e) {
          throw transportError(e, url);
        }
      },
      emit(event: PushEvent) {
        ctx.emit("store", event);
        progress.update(event);
        options.onEvent?.(event);
      },
    }, { format: spec.format, chunkBytes: config.pushChunkBytes });
    progress.end();
    return pushed;
  } catch (e) {
    if (!ctx.output.closed.aborted) progress.end();
    throw e;
  } finally {
    direct?.close();
    clients.close();
  }
}

/** A one-line percentage of the bytes sent, on a terminal's stderr, redrawn at most every 200 ms. */
function progressLine(ctx: CommandContext) {
  const live = ctx.output.stderrIsTty && !ctx.output.json && !ctx.output.quiet;
  let last = 0;
  let drawn = false;
  let total = 0;
  const done = new Map<string, number>();
  return {
    update(event: PushEvent) {
      if (!live) return;
      if (event.event === "push_started") total = event.total_bytes;
      else if (event.event === "push_blob") done.set(event.digest, event.size_bytes);
      else if (event.event === "push_progress") done.set(event.digest, event.done_bytes);
      else return;
      const now = performance.now();
      const sent = [...done.values()].reduce((n, b) => n + b, 0);
      if (now - last < 200 && sent < total) return;
      last = now;
      drawn = true;
      const pct = total ? Math.floor((100 * sent) / total) : 100;
      ctx.output.stderr(`\r  pushing ${pct}%  ${formatBytes(sent)} of ${formatBytes(total)}\x1b[K`);
    },
    end() {
      if (drawn) ctx.output.stderr("\r\x1b[K");
      drawn = false;
    },
  };
}

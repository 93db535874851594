/**
 * The first request of a download: a `GET` for one range, redirects followed
 * and checked hop by hop. Its answer decides everything else — a `206` gives
 * the size and validators (parallel parts), a `200` means one stream.
 * @module
 */
import type { DownloadOptions } from "./download_options.ts";
import { openGet } from "./http_get.ts";

/** An open answer to the probe, and how to abort its request. */
export interface Probe {
  response: Response;
  url: URL;
  controller: AbortController;
}

/** Which range to ask for, and the `If-Range` validator of a resumed download. */
export interface ProbeRange {
  from: number;
  to: number;
  validator: string | null;
}

/** Opens the probe; a `416` (an empty file) is asked again without a range. */
export async function openProbe(url: string, range: ProbeRange, options: DownloadOptions): Promise<Probe> {
  const controller = new AbortController();
  // The probe's own controller ends only its request; the caller's signal ends it too (no listener
  // is left on the caller's long-lived signal).
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  const everyHop: Record<string, string> = { range: `bytes=${range.from}-${range.to}` };
  if (range.validator) everyHop["if-range"] = range.validator;
  const { response, url: resolved } = await openGet(url, {
    policy: options.policy,
    clientFor: options.clientFor,
    send: options.send,
    headers: options.headers,
    everyHop,
    signal,
  });
  if (response.status === 416) {
    // An empty file, or a resumed range past the end of a file that shrank: ask for it whole.
    await response.body?.cancel();
    const whole = await openGet(url, {
      policy: options.policy,
      clientFor: options.clientFor,
      send: options.send,
      headers: options.headers,
      signal,
    });
    return { response: whole.response, url: whole.url, controller };
  }
  return { response, url: resolved, controller };
}

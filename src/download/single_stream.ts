/**
 * The fallback for origins that ignore ranges: the probe's `200` body is
 * streamed into the partial file in batches of {@link BATCH_BYTES} and hashed
 * as it lands. It cannot be resumed, so a failure frees the partial and marks
 * the error `single_stream` for the caller to start over.
 * @module
 */
import { LodeError, toLodeError } from "../errors.ts";
import { HashingWriter } from "../store/hashing_writer.ts";
import { checkDiskSpace } from "./disk_space.ts";
import { transportError } from "./http_get.ts";
import type { DownloadOptions, DownloadResult } from "./download_options.ts";
import { BATCH_BYTES } from "./part_body.ts";
import type { Probe } from "./probe.ts";

/** The origin ignores ranges: one stream, hashed as it lands; retried from the start. */
export async function singleStream(
  probe: Probe,
  options: DownloadOptions & { file: string; partialDir: string },
): Promise<DownloadResult> {
  const { file, partialDir } = options;
  await Deno.remove(`${partialDir}/state.json`).catch(() => {});
  const length = probe.response.headers.get("content-length");
  const total = length !== null && /^\d+$/.test(length) ? Number(length) : null;
  if (options.expectedBytes !== undefined && total !== null && total !== options.expectedBytes) {
    probe.controller.abort();
    throw new LodeError(
      "SIZE_MISMATCH",
      `${probe.url.host} announces ${total} bytes, expected ${options.expectedBytes}`,
      {
        details: { url: probe.url.href, expected_bytes: options.expectedBytes, received_bytes: total },
      },
    );
  }
  if (options.disk) {
    await checkDiskSpace(options.disk.path, { neededBytes: total, cushionBytes: options.disk.cushionBytes })
      .catch((e) => {
        probe.controller.abort();
        throw e;
      });
  }
  options.onStart?.({ totalBytes: total, url: probe.url.href, resumedBytes: 0 });
  await Deno.mkdir(partialDir, { recursive: true });
  using out = await Deno.open(file, { write: true, create: true, truncate: true });
  // Small batches, as for ranges (part_body.ts): hashed and copied into the page cache while still in cache.
  const writer = new HashingWriter(out, BATCH_BYTES);
  const limit = options.expectedBytes ?? total ?? undefined;
  try {
    try {
      await writer.pipeFrom(probe.response.body!, { onProgress: options.onProgress, maxBytes: limit });
    } catch (e) {
      throw transportError(e, probe.url);
    }
    const { sha256, bytes } = await writer.finish();
    const expected = options.expectedBytes ?? total;
    if (expected !== null && bytes !== expected) {
      throw new LodeError("SIZE_MISMATCH", `${probe.url.host} sent ${bytes} bytes, expected ${expected}`, {
        details: { url: probe.url.href, expected_bytes: expected, received_bytes: bytes },
      });
    }
    return { file, sha256, bytes, resumedBytes: 0 };
  } catch (e) {
    // Without ranges a partial cannot be resumed: free its space now.
    await writer.close().catch(() => {});
    await Deno.remove(partialDir, { recursive: true }).catch(() => {});
    const error = toLodeError(e);
    error.details.single_stream = true;
    throw error;
  }
}

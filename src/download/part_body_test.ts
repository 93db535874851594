/**
 * writeBody against the real test origin (HTTPS on loopback) stalling mid-body, read through lode's
 * HTTP/1.1 client (its direct reader) and through `fetch` (a BYOB reader), with batches of 1 MiB and 256
 * KiB: an abort while a read is pending ends the read, and every byte received before it is in the file and
 * counted as written.
 */
import assert from "node:assert/strict";
import { startOrigin } from "../../tests/support/origin.ts";
import { makeTestCa } from "../../tests/support/test_ca.ts";
import { Http1Client } from "./http1_client.ts";
import { BatchPool, writeBody } from "./part_body.ts";
import { WaitClock } from "./wait_clock.ts";

const MiB = 1024 * 1024;
const BODY = new Uint8Array(4 * MiB).map((_, i) => (i * 13) % 251);
/** Not a multiple of either batch size: a partly filled batch is pending when the read is aborted. */
const STALL_AT = 2.5 * MiB + 1000;

/** Calls `onPendingRead` once a read is under way after `received()` reached {@link STALL_AT}. */
class StallWatch extends WaitClock {
  constructor(readonly received: () => number, readonly onPendingRead: () => void) {
    super();
  }
  override begin(): () => void {
    const end = super.begin();
    // begin() runs just before the read is asked for: the next task sees it pending.
    if (this.received() === STALL_AT) setTimeout(this.onPendingRead, 0);
    return end;
  }
}

Deno.test("writeBody: an abort ends a pending body read; the bytes received before it are written and counted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lode-part-body-" });
  const ca = await makeTestCa(`${dir}/ca`);
  // The stall outlasts any test run: a read that ignores the abort shows as bytes past STALL_AT.
  const origin = await startOrigin({
    tls: ca,
    routes: { "/f": { body: BODY, fault: { kind: "stall", afterBytes: STALL_AT, ms: 30_000 } } },
  });
  const http1 = new Http1Client({ caCerts: [ca.caCertPem] });
  const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
  const transports = {
    http1: (signal: AbortSignal) => http1.request(new URL(`${origin.url}/f`), { signal }),
    fetch: (signal: AbortSignal) => fetch(`${origin.url}/f`, { client, signal }),
  };
  try {
    for (const [name, send] of Object.entries(transports)) {
      for (const batchBytes of [MiB, MiB / 4]) {
        const label = `${name}, ${batchBytes} B batches`;
        const abort = new AbortController();
        const reason = new DOMException(`stop (${label})`, "AbortError");
        const response = await send(abort.signal);
        const path = `${dir}/${name}-${batchBytes}`;
        using file = await Deno.open(path, { write: true, create: true });
        let received = 0;
        let written = 0;
        const offered: number[] = [];
        const error = await writeBody(response.body!, {
          file,
          offset: 0,
          expected: BODY.length,
          pool: new BatchPool(batchBytes),
          waited: new StallWatch(() => received, () => abort.abort(reason)),
          onRead: (n) => received = n,
          onBatch: (bytes, offset) => offered.push(offset, bytes.length),
          onWritten: (n) => written = n,
        }).then(() => null, (e) => e);
        assert.ok(error === reason || (error instanceof DOMException && error.name === "AbortError"), label);
        assert.equal(received, STALL_AT, label);
        assert.equal(written, STALL_AT, `${label}: every byte received is counted as written`);
        assert.deepEqual(await Deno.readFile(path), BODY.subarray(0, STALL_AT), label);
        // The batches were offered (to the hashing frontier) in order, end to end.
        let at = 0;
        for (let i = 0; i < offered.length; i += 2) {
          assert.equal(offered[i], at, label);
          at += offered[i + 1]!;
        }
        assert.equal(at, STALL_AT, label);
      }
    }
  } finally {
    http1.close();
    client.close();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

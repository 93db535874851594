/**
 * Writing a large file's bytes in pieces of at most {@link WRITE_PIECE_BYTES}.
 *
 * Linux (6.x, ext4 and xfs) sizes a new page-cache folio by the length of the write that creates it: a 128 KiB
 * write gets one 128 KiB folio (order 5), a 32 KiB write one of 32 KiB (order 3). Folios up to order 3 come
 * from the per-CPU lists of pages freed moments ago; larger ones are split from the allocator's big free
 * blocks, and under a hypervisor that takes free memory back (virtio-balloon free page reporting, as on the
 * VMs these benchmarks ran on) those blocks are no longer backed and fault in on first touch. Measured there
 * (docs/benchmarks.md): 1 GiB written with 32 KiB `writeSync` calls took 0.23–0.31 s of system time, with
 * 128 KiB calls 0.74–0.95 s, and `lode pull` of 1 GiB went from 3.0–3.7 s to 2.3–2.5 s.
 *
 * @example
 * ```ts
 * import { writeAllSync } from "./page_cache_write.ts";
 * using file = await Deno.open(await Deno.makeTempFile(), { write: true });
 * writeAllSync(file, new Uint8Array(100_000));
 * ```
 * @module
 */

/** The largest write issued: 32 KiB, an order-3 folio with 4 KiB pages. */
export const WRITE_PIECE_BYTES = 32 * 1024;

/** The part of a file {@link writeAllSync} writes to: its current position onwards. */
export interface SyncWritable {
  writeSync(bytes: Uint8Array): number;
}

/** Writes every byte of `bytes` at the file's position, in writes of at most {@link WRITE_PIECE_BYTES}. */
export function writeAllSync(file: SyncWritable, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) {
    at += file.writeSync(bytes.subarray(at, Math.min(at + WRITE_PIECE_BYTES, bytes.length)));
  }
}

/**
 * Response frames as NDJSON lines: text for one connection (its
 * `NdjsonConnection` encodes the text straight into its write buffer),
 * bytes for a frame written to many (the admin stream encodes each status
 * once for every subscriber).
 * @module
 */
import type { AdminFrame, ResponseFrame } from "./protocol.ts";

const encoder = new TextEncoder();

/**
 * One frame as a line of text (JSON and `\n`), for `NdjsonConnection.enqueue` (which encodes it
 * into its write buffer).
 *
 * @example
 * ```ts
 * frameLine({ id: "1", type: "token", text: "Once" }); // '{"id":"1","type":"token","text":"Once"}\n'
 * ```
 */
export function frameLine(frame: ResponseFrame | AdminFrame | Record<string, unknown>): string {
  return JSON.stringify(frame) + "\n";
}

/**
 * Frames that go together (a result and its `done`) as consecutive lines of text: queued as one.
 *
 * @example
 * ```ts
 * frameLines([{ id: "1", type: "tokens", tokens: [1] }, { id: "1", type: "done" }]); // two lines
 * ```
 */
export function frameLines(frames: ResponseFrame[]): string {
  let text = "";
  for (const frame of frames) text += frameLine(frame);
  return text;
}

/**
 * One frame as a line of bytes: for a frame written to many connections (the admin stream), encoded once.
 *
 * @example
 * ```ts
 * encodeFrame({ id: "admin", type: "status", status: "ready" }); // bytes of {"id":"admin",…}\n
 * ```
 */
export function encodeFrame(frame: ResponseFrame | AdminFrame | Record<string, unknown>): Uint8Array {
  return encoder.encode(frameLine(frame));
}

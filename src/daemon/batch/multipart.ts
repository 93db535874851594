/**
 * A streaming reader of `multipart/form-data` bodies (RFC 7578), for uploads that must not be held in
 * memory: each part's bytes go to a sink as they arrive. Text fields (a part without a `filename`) are
 * collected up to a small limit; a file part is handed to `onFile`, which consumes its stream (writes it
 * to disk). Bad framing is `BAD_REQUEST` naming the body.
 *
 * @example
 * ```ts
 * import { readMultipart } from "./multipart.ts";
 * const body = "--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--b--\r\n";
 * const req = new Request("http://x/", { method: "POST", body, headers: { "content-type": "multipart/form-data; boundary=b" } });
 * const form = await readMultipart(req, { onFile: async (part) => { await part.stream.cancel(); } });
 * form.fields.get("purpose"); // "batch"
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";

/** A file part as it starts: its field name, file name and type; `stream` gives its bytes. */
export interface FilePart {
  name: string;
  filename: string;
  contentType: string | null;
  /** The part's bytes; read it to the end (or cancel it) before `onFile` resolves. */
  stream: ReadableStream<Uint8Array>;
}

/** Options of {@link readMultipart}. */
export interface MultipartOptions {
  /** Called once for every file part; must consume `part.stream`. */
  onFile: (part: FilePart) => Promise<void>;
  /** Largest text field in bytes. Default 64 KiB. */
  maxFieldBytes?: number;
}

/** The text fields of a form (a file part is not among them). */
export interface MultipartForm {
  fields: Map<string, string>;
}

const CRLF = new Uint8Array([13, 10]);
const HEADER_END = new Uint8Array([13, 10, 13, 10]);
const MAX_HEADER_BYTES = 16 * 1024;

/** `BAD_REQUEST` about the multipart body. */
export function badForm(message: string, field = "file"): LodeError {
  return new LodeError("BAD_REQUEST", message, {
    details: { field },
    hint: "Send the upload as multipart/form-data with a `file` part and a `purpose` field " +
      "(what the openai clients' files.create and `curl -F file=@x.jsonl -F purpose=batch` send).",
  });
}

/** The boundary of a `multipart/form-data` content type; `BAD_REQUEST` for another type. */
export function boundaryOf(contentType: string | null): string {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "multipart/form-data") {
    throw badForm(`the upload must be multipart/form-data, not ${JSON.stringify(contentType ?? "")}`);
  }
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType!);
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined || boundary.length > 200) throw badForm("the multipart body has no boundary");
  return boundary;
}

/**
 * Reads `req`'s multipart body: text fields into the result, each file part through `onFile` as it
 * streams in. Rejects with `BAD_REQUEST` for a body that is not multipart or is cut short, or with
 * whatever `onFile` or the body's stream rejects with.
 */
export async function readMultipart(req: Request, options: MultipartOptions): Promise<MultipartForm> {
  const boundary = boundaryOf(req.headers.get("content-type"));
  if (req.body === null) throw badForm("the upload has no body");
  const reader = new Chunks(req.body.getReader());
  const delimiter = new TextEncoder().encode(`\r\n--${boundary}`);
  const fields = new Map<string, string>();
  const maxField = options.maxFieldBytes ?? 64 * 1024;
  // The first delimiter has no CRLF before it: read as if it had.
  reader.unshift(CRLF);
  if (!await reader.skipPast(delimiter, 64 * 1024)) throw badForm("the multipart body has no part");
  while (true) {
    const after = await reader.take(2);
    if (after === null) throw badForm("the multipart body ends before its closing boundary");
    if (after[0] === 45 && after[1] === 45) break; // "--": the closing delimiter
    const headerText = await reader.takeUntil(HEADER_END, MAX_HEADER_BYTES, after);
    if (headerText === null) throw badForm("a part of the multipart body has no end to its headers");
    const headers = parseHeaders(new TextDecoder().decode(headerText));
    const disposition = parseDisposition(headers.get("content-disposition") ?? "");
    if (disposition.name === undefined) throw badForm("a part of the multipart body has no name");
    if (disposition.filename !== undefined) {
      const { stream, done } = reader.streamUntil(delimiter);
      await options.onFile({
        name: disposition.name,
        filename: disposition.filename,
        contentType: headers.get("content-type") ?? null,
        stream,
      });
      if (!await done) throw badForm("the multipart body ends inside the file");
    } else {
      const value = await reader.takeUntil(delimiter, maxField);
      if (value === null) {
        throw badForm(
          `the field ${disposition.name} is longer than ${maxField} bytes or not closed`,
          disposition.name,
        );
      }
      fields.set(disposition.name, new TextDecoder().decode(value));
    }
  }
  await reader.discard();
  return { fields };
}

/** Header lines (`Name: value`, names lower-cased). The first line is the CRLF ending the delimiter. */
function parseHeaders(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) out.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return out;
}

/** `name` and `filename` of a `Content-Disposition: form-data` value (`filename*=UTF-8''…` preferred). */
export function parseDisposition(value: string): { name?: string; filename?: string } {
  const params = new Map<string, string>();
  const re = /;\s*([A-Za-z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!.trim();
    params.set(m[1]!.toLowerCase(), raw);
  }
  const out: { name?: string; filename?: string } = {};
  const name = params.get("name");
  if (name !== undefined) out.name = name;
  const extended = params.get("filename*");
  let filename = params.get("filename");
  if (extended !== undefined) {
    const match = /^[^']*'[^']*'(.*)$/.exec(extended);
    try {
      filename = decodeURIComponent(match?.[1] ?? extended);
    } catch { /* keep the plain one */ }
  }
  if (filename !== undefined) out.filename = filename;
  return out;
}

/** A byte source with look-ahead over a stream's reader. */
class Chunks {
  #buffer: Uint8Array = new Uint8Array(0);
  #ended = false;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
  }

  unshift(bytes: Uint8Array): void {
    this.#buffer = concat(bytes, this.#buffer);
  }

  /** Reads one more chunk into the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#ended = true;
      return false;
    }
    this.#buffer = this.#buffer.length === 0 ? value : concat(this.#buffer, value);
    return true;
  }

  /** The next `n` bytes, or null when the stream ends first. */
  async take(n: number): Promise<Uint8Array | null> {
    while (this.#buffer.length < n) if (!await this.#fill()) return null;
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Drops bytes up to and including `marker`; false when it does not come within `limit` bytes. */
  async skipPast(marker: Uint8Array, limit: number): Promise<boolean> {
    return await this.takeUntil(marker, limit) !== null;
  }

  /** The bytes before `marker` (consumed with it), `prefix` first; null when not found within `limit`. */
  async takeUntil(marker: Uint8Array, limit: number, prefix?: Uint8Array): Promise<Uint8Array | null> {
    if (prefix) this.unshift(prefix);
    let from = 0;
    while (true) {
      const at = indexOf(this.#buffer, marker, from);
      if (at !== -1) {
        const out = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.subarray(at + marker.length);
        return out;
      }
      if (this.#buffer.length > limit + marker.length) return null;
      from = Math.max(0, this.#buffer.length - marker.length + 1);
      if (!await this.#fill()) return null;
    }
  }

  /**
   * A stream of the bytes before `marker`; `done` resolves true once the marker was found and consumed,
   * false when the body ended first. Bytes that may be the start of the marker are held back.
   */
  streamUntil(marker: Uint8Array): { stream: ReadableStream<Uint8Array>; done: Promise<boolean> } {
    const done = Promise.withResolvers<boolean>();
    let finished = false;
    const finish = (found: boolean) => {
      finished = true;
      done.resolve(found);
    };
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (true) {
          const at = indexOf(this.#buffer, marker, 0);
          if (at !== -1) {
            const out = this.#buffer.subarray(0, at);
            this.#buffer = this.#buffer.subarray(at + marker.length);
            if (out.length > 0) controller.enqueue(out);
            controller.close();
            finish(true);
            return;
          }
          // A marker not in the buffer can only start in its last bytes, at a byte that starts the marker.
          const tail = Math.max(0, this.#buffer.length - marker.length + 1);
          const start = this.#buffer.indexOf(marker[0]!, tail);
          const safe = start === -1 ? this.#buffer.length : start;
          if (safe > 0) {
            controller.enqueue(this.#buffer.subarray(0, safe));
            this.#buffer = this.#buffer.subarray(safe);
            return;
          }
          if (!await this.#fill()) {
            controller.close();
            finish(false);
            return;
          }
        }
      },
      cancel: async () => {
        // The consumer gave up on the part: skip the rest of it.
        if (!finished) finish(await this.takeUntil(marker, Infinity) !== null);
      },
    }, { highWaterMark: 0 });
    return { stream, done: done.promise };
  }

  /** Reads and drops what is left (the epilogue). */
  async discard(): Promise<void> {
    while (await this.#fill()) this.#buffer = new Uint8Array(0);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  const last = haystack.length - needle.length;
  outer: for (
    let i = haystack.indexOf(first, from);
    i !== -1 && i <= last;
    i = haystack.indexOf(first, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

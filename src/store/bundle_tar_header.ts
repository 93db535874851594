/**
 * The subset of POSIX tar (ustar, plus pax `size`/`path` records) that model
 * bundles use: regular files with short names, any size. Pure encoding and
 * decoding of 512-byte header blocks; the streaming reader is
 * `bundle_tar_reader.ts`. Hand-written rather than `tar-stream`: reading an
 * entry through tar-stream and SHA-256 was several times slower than 8 MiB
 * reads straight from the file (docs/benchmarks.md).
 *
 * @example
 * ```ts
 * const head = encodeTarEntryHeader({ path: "SHA256SUMS", size: 84, mtime: 0 });
 * const parsed = decodeTarHeader(head.subarray(0, 512)); // { path: "SHA256SUMS", size: 84, type: "0" }
 * ```
 * @module
 */

/** Size of a tar block. */
export const BLOCK = 512;
/** The largest size a ustar header holds in its 11 octal digits (8 GiB - 1); larger sizes use a pax record. */
export const USTAR_MAX_SIZE = 8 ** 11 - 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One entry to write. */
export interface TarEntryInput {
  path: string;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Permission bits; default 0o644. */
  mode?: number;
}

/** A decoded header block. */
export interface TarHeader {
  path: string;
  size: number;
  /** The type flag: `0` file, `5` directory, `x` pax extended header, `g` pax global header, … */
  type: string;
}

/** Bytes of padding after an entry of `size` bytes. */
export function tarPadding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function writeString(block: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = encoder.encode(text);
  if (bytes.length > length) throw new RangeError(`tar field too long: ${text}`);
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

function headerBlock(path: string, size: number, type: string, mtime: number, mode: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, path);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(mtime)));
  block.fill(0x20, 148, 156);
  writeString(block, 156, 1, type);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

/** A pax record, `"<len> key=value\n"`, where `<len>` counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

/**
 * The header block(s) of a regular file: one ustar block, preceded by a pax extended header
 * (and its data, padded) when the size does not fit in ustar's 11 octal digits.
 */
export function encodeTarEntryHeader(entry: TarEntryInput): Uint8Array {
  if (entry.path.length >= 100 || !/^[\x21-\x7e]+$/.test(entry.path)) {
    throw new RangeError(`bundle entry paths are short printable ASCII: ${entry.path}`);
  }
  const mode = entry.mode ?? 0o644;
  const main = headerBlock(entry.path, Math.min(entry.size, USTAR_MAX_SIZE), "0", entry.mtime, mode);
  if (entry.size <= USTAR_MAX_SIZE) return main;
  const pax = encoder.encode(paxRecord("size", String(entry.size)));
  const out = new Uint8Array(BLOCK + pax.length + tarPadding(pax.length) + BLOCK);
  out.set(headerBlock(`PaxHeaders/${entry.path}`.slice(0, 99), pax.length, "x", entry.mtime, mode));
  out.set(pax, BLOCK);
  out.set(main, out.length - BLOCK);
  return out;
}

/** The end of an archive: two zero blocks. */
export function tarEndOfArchive(): Uint8Array {
  return new Uint8Array(2 * BLOCK);
}

function readString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul === -1 ? field : field.subarray(0, nul));
}

/** A numeric field: octal text, or GNU base-256 (high bit set) for large values. `null` when malformed. */
function readNumber(block: Uint8Array, offset: number, length: number): number | null {
  const field = block.subarray(offset, offset + length);
  if (field[0]! & 0x80) {
    let value = field[0]! & 0x7f;
    for (const b of field.subarray(1)) value = value * 256 + b;
    return Number.isSafeInteger(value) ? value : null;
  }
  const text = readString(block, offset, length).trim();
  if (text === "") return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : null;
}

/** True when every byte of `block` is zero (the end-of-archive marker). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

/** True when `block` carries the ustar magic (POSIX `ustar\0` or GNU `ustar `) at offset 257. */
export function hasTarMagic(block: Uint8Array): boolean {
  const magic = readString(block, 257, 6);
  return magic === "ustar" || magic === "ustar ";
}

/** Decodes one header block; `null` when it is not a valid ustar header (bad magic or checksum). */
export function decodeTarHeader(block: Uint8Array): TarHeader | null {
  if (block.length !== BLOCK) return null;
  if (!hasTarMagic(block)) return null;
  const magic = readString(block, 257, 6);
  const stored = readNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored === null || (stored !== unsigned && stored !== signed)) return null;
  const size = readNumber(block, 124, 12);
  if (size === null) return null;
  const name = readString(block, 0, 100);
  const prefix = magic === "ustar" ? readString(block, 345, 155) : "";
  const type = String.fromCharCode(block[156]!) === "\0" ? "0" : String.fromCharCode(block[156]!);
  return { path: prefix ? `${prefix}/${name}` : name, size, type };
}

/** Parses pax extended-header data into its records; `null` when malformed. */
export function parsePaxRecords(data: Uint8Array): Map<string, string> | null {
  const text = decoder.decode(data);
  const records = new Map<string, string>();
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(" ", at);
    const len = Number(text.slice(at, space));
    if (space === -1 || !Number.isSafeInteger(len) || len <= 0) return null;
    const record = text.slice(space + 1, at + len);
    if (!record.endsWith("\n")) return null;
    const eq = record.indexOf("=");
    if (eq === -1) return null;
    records.set(record.slice(0, eq), record.slice(eq + 1, -1));
    at += len;
  }
  return records;
}

/**
 * Splits a GGUF model into shards the way llama.cpp's `gguf-split` does, so
 * tests can pull and load a real split model (`NAME-00001-of-0000N.gguf`, …):
 * shard 1 holds every metadata key, each shard holds `split.no` (u16),
 * `split.count` (u16) and `split.tensors.count` (i32) and its share of the
 * tensors with offsets relative to its own data section. llama.cpp, given
 * shard 1, opens the others by name from the same directory.
 *
 * ```sh
 * deno run -A scripts/split_gguf.ts --in m.gguf --out-prefix /tmp/m --shards 3
 * ```
 * Prints one JSON line per shard: {path, sizeBytes, tensors}.
 * @module
 */
import { parseArgs } from "node:util";
import { alignUp, GGUF_TYPE, type GgufValue, readGgufHeader } from "../src/gguf/mod.ts";
import { encodeGgufHeader } from "./gguf_header.ts";

/** One shard {@link splitGguf} wrote. */
export interface GgufShard {
  path: string;
  sizeBytes: number;
  tensors: number;
}

/** The file name llama.cpp expects for shard `index` (0-based) of `count`: `PREFIX-0000I-of-0000N.gguf`. */
export function shardPath(prefix: string, index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, "0");
  return `${prefix}-${pad(index + 1)}-of-${pad(count)}.gguf`;
}

/**
 * Writes `count` shards of the GGUF at `path` next to `outPrefix`, tensors
 * divided as evenly as their order allows (each shard gets at least one).
 *
 * @example
 * ```ts
 * import { splitGguf } from "./split_gguf.ts";
 * const shards = await splitGguf("/tmp/m.gguf", { outPrefix: "/tmp/m", count: 2 });
 * console.log(shards.map((s) => s.path)); // [/tmp/m-00001-of-00002.gguf, /tmp/m-00002-of-00002.gguf]
 * ```
 */
export async function splitGguf(
  path: string,
  options: { outPrefix: string; count: number },
): Promise<GgufShard[]> {
  const { outPrefix, count } = options;
  // Keep every array: shard 1 copies the metadata item by item.
  const header = await readGgufHeader(path, {
    limits: { keepArrayItems: Infinity, maxKeptArrayItems: Infinity },
  });
  if (!Number.isInteger(count) || count < 2 || count > header.tensors.length) {
    throw new Error(`--shards must be 2..${header.tensors.length} (the tensor count), got ${count}`);
  }
  using source = await Deno.open(path, { read: true });
  const tensorBytes = (i: number): number => {
    const t = header.tensors[i]!;
    const next = header.tensors[i + 1]?.offset;
    if (next !== undefined) return next - t.offset;
    return 0; // the last tensor's size: filled in below from the file size
  };
  const sizes = header.tensors.map((_, i) => tensorBytes(i));
  sizes[sizes.length - 1] = header.fileSize - header.dataOffset - header.tensors.at(-1)!.offset;
  const perShard = Math.ceil(header.tensors.length / count);
  const shards: GgufShard[] = [];
  for (let s = 0; s < count; s++) {
    const first = s * perShard;
    const indices = [...header.tensors.keys()].slice(
      first,
      Math.min(first + perShard, header.tensors.length),
    );
    if (indices.length === 0) throw new Error(`shard ${s + 1} would hold no tensor; use fewer shards`);
    const splitKeys: [string, GgufValue][] = [
      ["split.no", { type: GGUF_TYPE.UINT16, value: s }],
      ["split.count", { type: GGUF_TYPE.UINT16, value: count }],
      ["split.tensors.count", { type: GGUF_TYPE.INT32, value: header.tensors.length }],
    ];
    const kv = new Map<string, GgufValue>(s === 0 ? [...header.metadata, ...splitKeys] : splitKeys);
    if (s !== 0) kv.set("general.alignment", { type: GGUF_TYPE.UINT32, value: header.alignment });
    let offset = 0;
    const infos = indices.map((i) => {
      const info = { ...header.tensors[i]!, offset };
      offset = alignUp(offset + sizes[i]!, header.alignment);
      return info;
    });
    const head = encodeGgufHeader(kv, infos);
    const out = shardPath(outPrefix, s, count);
    using file = await Deno.open(out, { write: true, create: true, truncate: true });
    await file.write(head); // encodeGgufHeader pads to the alignment
    for (const [k, i] of indices.entries()) {
      const bytes = new Uint8Array(sizes[i]!);
      await source.seek(header.dataOffset + header.tensors[i]!.offset, Deno.SeekMode.Start);
      for (let got = 0; got < bytes.length;) {
        const n = await source.read(bytes.subarray(got));
        if (n === null) throw new Error(`${path} ends inside tensor ${header.tensors[i]!.name}`);
        got += n;
      }
      await file.seek(head.byteLength + infos[k]!.offset, Deno.SeekMode.Start);
      for (let put = 0; put < bytes.length;) put += await file.write(bytes.subarray(put));
    }
    shards.push({ path: out, sizeBytes: (await file.stat()).size, tensors: indices.length });
  }
  return shards;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { in: { type: "string" }, "out-prefix": { type: "string" }, shards: { type: "string" } },
  });
  if (!values.in || !values["out-prefix"] || !values.shards) {
    console.error("usage: split_gguf.ts --in FILE.gguf --out-prefix PREFIX --shards N");
    Deno.exit(2);
  }
  for (
    const shard of await splitGguf(values.in, {
      outPrefix: values["out-prefix"],
      count: Number(values.shards),
    })
  ) {
    console.log(JSON.stringify(shard));
  }
}

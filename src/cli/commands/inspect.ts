/**
 * `lode inspect MODEL|FILE`: what a GGUF model is (architecture, parameters, quantization, context
 * length, layers, heads, chat template, tensors, sizes), from lode's own bounded header reader —
 * without loading the model or node-llama-cpp. For a stored model of several files, its other files too
 * (projector, license, chat template: each with its path, `files` in `--json`). MODEL is a store name, `file:PATH`, or the path of an
 * existing file. A hostile or corrupt file fails with `GGUF_INVALID` (exit 4); nothing is written.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { InspectEvent, InspectFile } from "../../events/inspect_event.ts";
import type { GgufSummary } from "../../gguf/summary.ts";
import { inspectGgufModel } from "../../gguf/split.ts";
import { baseName } from "../../path.ts";
import { parseRef } from "../../registry/reference.ts";
import type { Manifest } from "../../store/manifest.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

async function isFile(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

const REMOTE = /^(hf:|hf\.co\/|huggingface\.co\/|https?:)/i;

/** The file to read, and for a stored model of several files, each of them. */
interface Resolved {
  path: string;
  files?: InspectFile[];
}

/** Every file of a stored model of several files, each with its link's path (undefined for one file). */
function storedFiles(manifest: Manifest, path: string): InspectFile[] | undefined {
  if ((manifest.files?.length ?? 0) < 2) return undefined;
  const dir = path.slice(0, path.lastIndexOf("/"));
  return manifest.files!.map((f) => ({
    role: f.role,
    filename: f.filename,
    blob: f.blob,
    size_bytes: f.size_bytes,
    path: `${dir}/${f.filename.slice(f.filename.lastIndexOf("/") + 1)}`,
  }));
}

/**
 * The file MODEL names: `file:PATH` and anything path-like (a `/`, or ending in .gguf) are paths; a
 * store name is looked up in the store, and when the store has no such model, an existing file of that
 * name is taken.
 */
async function resolvePath(ctx: CommandContext, model: string): Promise<Resolved> {
  let path: string | undefined;
  if (model.startsWith("file:")) {
    const ref = parseRef(model);
    if (ref.kind === "file") path = ref.path;
  } else if ((model.includes("/") || /\.gguf$/i.test(model)) && !REMOTE.test(model)) {
    path = model;
  }
  if (path !== undefined) {
    if (await isFile(path)) return { path };
    throw new LodeError("FILE_NOT_FOUND", `no such file: ${path}`, {
      details: { path },
      hint: "Check the path; `lode inspect NAME` inspects a model in the store.",
    });
  }
  const ref = parseRef(model);
  if (ref.kind !== "name") {
    throw new LodeError("USAGE", `lode inspect reads local files and models in the store, not ${model}`, {
      hint: `Pull it first (lode pull ${model}), then inspect it by name.`,
    });
  }
  try {
    const store = await ctx.store();
    const path = await store.modelPathOf(ref.name);
    const files = storedFiles(await store.getManifest(ref.name), path);
    return files ? { path, files } : { path };
  } catch (e) {
    if (e instanceof LodeError && e.code === "MODEL_NOT_FOUND" && await isFile(model)) return { path: model };
    throw e;
  }
}

/** The `--json` event of a summary. */
function inspectEvent(model: string, { path, files }: Resolved, s: GgufSummary): InspectEvent {
  return {
    event: "inspect",
    model,
    path,
    gguf_version: s.version,
    architecture: s.architecture,
    name: s.name,
    parameters: s.parameters,
    quantization: s.quantization,
    quantization_source: s.quantizationSource,
    context_length: s.contextLength,
    embedding_length: s.embeddingLength,
    block_count: s.blockCount,
    head_count: s.headCount,
    head_count_kv: s.headCountKv,
    vocab_size: s.vocabSize,
    chat_template: s.chatTemplate,
    tensor_count: s.tensorCount,
    split_count: s.splitCount,
    file_size_bytes: s.fileSize,
    tensor_data_bytes: s.tensorDataBytes,
    tensor_types: s.tensorTypes,
    ...(files ? { files } : {}),
  };
}

/** How a row names a stored file of `role` (shards are told by `tensors`, not listed). */
const FILE_ROWS: Record<string, string> = {
  mmproj: "projector",
  license: "license",
  chat_template: "template file",
  ollama_template: "ollama template",
};

/** The rows of a stored model's files other than its weights: `license  LICENSE (1.1 KiB) PATH`. */
function fileRows(files: InspectFile[]): [string, string][] {
  return files.filter((f) => f.role !== "model" && f.role !== "shard").map((f) => [
    FILE_ROWS[f.role] ?? f.role,
    `${baseName(f.filename)} (${formatBytes(f.size_bytes)}) ${f.path}`,
  ]);
}

/**
 * Whether the GGUF carries a chat template (`yes`/`no`), or the stored template file that is used instead of
 * the GGUF's (an OCI artifact's template layer).
 */
function chatTemplateText(e: InspectEvent): string {
  const stored = (e.files ?? []).find((f) => f.role === "chat_template");
  if (stored === undefined) return e.chat_template ? "yes" : "no";
  const over = e.chat_template ? " instead of the GGUF's" : "";
  return `${baseName(stored.filename)}, stored with the model (used${over})`;
}

/** 292.8K, 7.62B: a parameter count people read. */
function formatCount(n: number): string {
  const units: [number, string][] = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
  for (const [size, unit] of units) {
    if (n >= size) return `${(n / size).toFixed(n / size >= 100 ? 1 : 2)}${unit}`;
  }
  return String(n);
}

/** The human lines: `key  value`, keys padded to one column. */
function inspectLines(e: InspectEvent): string[] {
  const opt = (v: number | string | null) => (v === null ? "-" : String(v));
  const rows: [string, string][] = [
    ["path", e.path],
    ["architecture", opt(e.architecture)],
    ["name", opt(e.name)],
    ["parameters", `${formatCount(e.parameters)} (${e.parameters})`],
    [
      "quantization",
      e.quantization +
      (e.quantization_source === "tensors" ? " (by tensor bytes; no general.file_type)" : ""),
    ],
    ["context length", opt(e.context_length)],
    ["embedding length", opt(e.embedding_length)],
    ["layers", opt(e.block_count)],
    ["attention heads", e.head_count === null ? "-" : `${e.head_count} (kv ${opt(e.head_count_kv)})`],
    ["vocabulary", opt(e.vocab_size)],
    ["chat template", chatTemplateText(e)],
    ["tensors", String(e.tensor_count) + (e.split_count > 1 ? ` in ${e.split_count} files` : "")],
    [
      "tensor types",
      Object.entries(e.tensor_types).map(([t, b]) => `${t} ${formatBytes(b)}`).join(", ") || "-",
    ],
    ["tensor data", `${formatBytes(e.tensor_data_bytes)} (${e.tensor_data_bytes} bytes)`],
    ["file size", `${formatBytes(e.file_size_bytes)} (${e.file_size_bytes} bytes)`],
    ["gguf version", String(e.gguf_version)],
    ...fileRows(e.files ?? []),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}

/** `lode inspect`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const model = parsed.args.model as string;
  const resolved = await resolvePath(ctx, model);
  const event = inspectEvent(model, resolved, await inspectGgufModel(resolved.path));
  ctx.emit("cli", event);
  for (const line of inspectLines(event)) ctx.output.result(line);
}

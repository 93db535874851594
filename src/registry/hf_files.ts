/**
 * Which files of a Hugging Face repo make up the model a reference names:
 * the quant's file (or all its split shards), plus a vision model's `mmproj`
 * as an optional file. Pure: works on the repo's file listing.
 *
 * - A file's quant is the last `-`/`.`-separated token of its name that looks like one (`Q4_K_M`,
 *   `IQ2_XXS`, `Q8_0`, `F16`, `BF16`, …; `UD-` kept), else its directory's name; compared
 *   case-insensitively.
 * - Split shards (`NAME-00001-of-00003.gguf`) form one model; every shard must be present.
 * - Without a quant: `Q4_K_M` when the repo has it, else the first model by path in byte order
 *   (llama.cpp's `-hf`).
 * - `mmproj` (a file whose name contains `mmproj`): the one with the model's quant, else F16, BF16,
 *   F32, else the first; only with a repo reference, not a file path.
 *
 * @example
 * ```ts
 * const files: HfFile[] = [
 *   { path: "Qwen3-0.6B-Q4_K_M.gguf", size: 484_220_320 },
 *   { path: "Qwen3-0.6B-Q8_0.gguf", size: 639_446_688 },
 * ];
 * const picked = selectHfFiles(files, { quant: "Q8_0" });
 * picked.model.map((f) => f.path); // ["Qwen3-0.6B-Q8_0.gguf"]
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/** One file of a repo listing. */
export interface HfFile {
  path: string;
  size: number;
  /** LFS SHA-256 (lowercase hex), when the file is stored in LFS. */
  sha256?: string;
}

/** What {@link selectHfFiles} picked. */
export interface HfSelection {
  /** The model's files: one, or every shard in order. */
  model: HfFile[];
  /** The quant of the model (upper-case), or null when its name has none. */
  quant: string | null;
  /** A vision projector, when the repo has one. */
  mmproj?: HfFile;
}

/** The quant pulled when a reference names none (as llama.cpp's `-hf` does). */
export const DEFAULT_QUANT = "Q4_K_M";

const QUANT_TOKEN = /^(?:I?Q\d+(?:_[A-Z0-9]+)*|TQ\d+_\d+|B?F16|F32|FP(?:8|16|32)|MXFP4(?:_MOE)?)$/i;
const SHARD = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** Byte order of paths (as git lists them), not the locale's. */
function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** True for a vision projector file. */
export function isMmproj(path: string): boolean {
  return /mmproj/i.test(baseName(path));
}

/** `{ prefix, index, count }` of a split shard's path, or null. */
export function shardOf(path: string): { prefix: string; index: number; count: number } | null {
  const m = SHARD.exec(path);
  if (!m) return null;
  const index = Number(m[2]);
  const count = Number(m[3]);
  if (index < 1 || count < 1 || index > count) return null;
  return { prefix: m[1]!, index, count };
}

/** The upper-case quant a file's name (or its directory's name) carries, or null. */
export function quantOf(path: string): string | null {
  const stem = baseName(path).replace(/\.gguf$/i, "").replace(/-\d{5}-of-\d{5}$/i, "");
  const tokens = stem.split(/[-.]/);
  for (let i = tokens.length - 1; i >= 0; i--) {
    if (!QUANT_TOKEN.test(tokens[i]!)) continue;
    const ud = i > 0 && tokens[i - 1]!.toUpperCase() === "UD" ? "UD-" : "";
    return (ud + tokens[i]!).toUpperCase();
  }
  const dirs = path.split("/").slice(0, -1);
  const dir = dirs[dirs.length - 1];
  return dir && QUANT_TOKEN.test(dir) ? dir.toUpperCase() : null;
}

interface Group {
  key: string;
  files: HfFile[];
  quant: string | null;
  count: number;
}

/** Models in a listing: single GGUF files and shard sets, sorted by path; mmproj files apart. */
function groupModels(files: HfFile[]): Group[] {
  const groups = new Map<string, Group>();
  for (const file of files) {
    if (!/\.gguf$/i.test(file.path) || isMmproj(file.path)) continue;
    const shard = shardOf(file.path);
    const key = shard ? `${shard.prefix}-of-${shard.count}` : file.path;
    const group = groups.get(key) ?? { key, files: [], quant: quantOf(file.path), count: shard?.count ?? 1 };
    group.files.push(file);
    groups.set(key, group);
  }
  for (const g of groups.values()) g.files.sort(byPath);
  return [...groups.values()].sort((a, b) => byPath(a.files[0]!, b.files[0]!));
}

/** The quants a listing offers (sorted, unique), for messages. */
export function availableQuants(files: HfFile[]): string[] {
  const quants = new Set<string>();
  for (const g of groupModels(files)) if (g.quant) quants.add(g.quant);
  return [...quants].sort();
}

function complete(group: Group, repo: string): HfFile[] {
  const have = new Set(group.files.map((f) => shardOf(f.path)?.index ?? 1));
  for (let i = 1; i <= group.count; i++) {
    if (!have.has(i)) {
      throw new LodeError(
        "MODEL_NOT_FOUND",
        `${repo}: shard ${i} of ${group.count} of ${group.key} is missing`,
        {
          details: { repo, missing_shard: i, shards: group.count },
          hint: "The repo at this revision has an incomplete split model; pick another quant or revision.",
        },
      );
    }
  }
  return group.files;
}

function pickMmproj(files: HfFile[], quant: string | null): HfFile | undefined {
  const candidates = files.filter((f) => /\.gguf$/i.test(f.path) && isMmproj(f.path))
    .sort(byPath);
  for (const q of [quant, "F16", "BF16", "F32"]) {
    const hit = q ? candidates.find((f) => quantOf(f.path) === q) : undefined;
    if (hit) return hit;
  }
  return candidates[0];
}

/** Picks the model's files for a quant (or the default) or one file path; typed errors list what exists. */
export function selectHfFiles(
  files: HfFile[],
  want: { quant?: string; path?: string; repo?: string; revision?: string },
): HfSelection {
  const repo = want.repo ?? "the repo";
  const at = want.revision ? ` at ${want.revision}` : "";
  const groups = groupModels(files);
  if (want.path) {
    const file = files.find((f) => f.path === want.path);
    if (!file) {
      const ggufs = files.filter((f) => /\.gguf$/i.test(f.path)).map((f) => f.path);
      throw new LodeError("MODEL_NOT_FOUND", `${repo}${at} has no file ${want.path}`, {
        details: { repo, path: want.path, available: ggufs },
        hint: ggufs.length ? `Files in the repo: ${ggufs.join(", ")}` : "The repo has no .gguf files.",
      });
    }
    const group = groups.find((g) => g.files.includes(file));
    return { model: group ? complete(group, repo) : [file], quant: quantOf(file.path) };
  }
  if (groups.length === 0) {
    throw new LodeError("MODEL_NOT_FOUND", `${repo}${at} has no .gguf files`, {
      details: { repo },
      hint: "lode pulls GGUF models; look for a repo with GGUF files (often named …-GGUF).",
    });
  }
  const quant = want.quant?.toUpperCase();
  let group: Group | undefined;
  if (quant) {
    group = groups.find((g) => g.quant === quant);
    if (!group) {
      const available = availableQuants(files);
      const untagged = groups.filter((g) => !g.quant).map((g) => g.files[0]!.path);
      throw new LodeError("MODEL_NOT_FOUND", `${repo}${at} has no ${quant} file`, {
        details: { repo, quant, available, untagged },
        hint: `Available quants: ${available.join(", ") || "(none)"}` +
          (untagged.length ? `; files without a quant tag: ${untagged.join(", ")}` : "") +
          `. Use hf:${want.repo ?? "OWNER/REPO"}:QUANT, or name a file with hf:OWNER/REPO/PATH.gguf.`,
      });
    }
  } else {
    group = groups.find((g) => g.quant === DEFAULT_QUANT) ?? groups[0]!;
  }
  const model = complete(group, repo);
  const mmproj = pickMmproj(files, group.quant);
  return { model, quant: group.quant, ...(mmproj ? { mmproj } : {}) };
}

/**
 * `lode.lock`: every model a project needs, pinned to the bytes — JSON with a
 * stable form (models sorted by name, fields in a fixed order, 2-space
 * indent), validated with zod, written atomically.
 *
 * ```json
 * {
 *   "lockfile_version": 1,
 *   "models": [
 *     {
 *       "name": "stories260K",
 *       "reference": "https://example.com/stories260K.gguf#sha256=270cba…",
 *       "registry": "example.com",
 *       "repo": "",
 *       "revision": "",
 *       "format": "gguf",
 *       "license": null,
 *       "files": [
 *         { "role": "model", "filename": "stories260K.gguf", "url": "https://…", "sha256": "270cba…", "size": 1185376 }
 *       ]
 *     }
 *   ]
 * }
 * ```
 *
 * A file may list `mirrors`: further URLs of the same bytes, tried in order
 * when `url` fails (`lode sync` uses them; they get no credentials unless on
 * `url`'s origin).
 *
 * A file without `sha256` or `size` is *unpinned* (a hand-written entry):
 * `lode sync` pins it by downloading it and writes the hash back; `lode sync
 * --frozen` refuses it. Unknown fields are errors (a misspelt `sha256` must
 * not silently unpin a file); a change that older versions cannot read bumps
 * `lockfile_version`.
 *
 * @example
 * ```ts
 * const lock = await readLockfile("lode.lock");
 * const url = "https://mirror.example/models/stories260K.gguf";
 * const entry: LockEntry = {
 *   name: "stories260K",
 *   reference: url,
 *   registry: "url",
 *   repo: "mirror.example",
 *   revision: "",
 *   files: [{
 *     role: "model",
 *     filename: "stories260K.gguf",
 *     url,
 *     sha256: "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
 *     size: 1185376,
 *   }],
 * };
 * await writeLockfile("lode.lock", withEntry(lock, entry));
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError, writeError } from "../errors.ts";
import { writeFileAtomic } from "../store/atomic_write.ts";
import { assertModelName, isSha256Hex } from "../store/layout.ts";
import { lineOfPath } from "../schema/json_locate.ts";
import { checkSchema, parseJsonText } from "../schema/schema_error.ts";

/** The lockfile format this lode reads and writes. */
const LOCKFILE_VERSION = 1;

/** Default lockfile path, relative to the working directory. */
const DEFAULT_LOCKFILE = "lode.lock";

const validName = (name: string) => {
  try {
    assertModelName(name);
    return true;
  } catch {
    return false;
  }
};

/** One file of a locked model. */
const HttpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, "must be an https:// (or http://) URL");

export const LockedFile = z.object({
  role: z.string().min(1),
  filename: z.string().min(1),
  url: HttpUrl,
  /** Further URLs of the same bytes, tried in order when `url` fails (optional). */
  mirrors: z.array(HttpUrl).optional(),
  sha256: z.string().refine(isSha256Hex, "must be 64 lowercase hex digits").optional(),
  size: z.number().int().nonnegative().optional(),
}).strict();
export type LockedFile = z.infer<typeof LockedFile>;

/** One model: where it came from and every file's pin. */
export const LockEntry = z.object({
  name: z.string().refine(validName, "must be a model name (letters, digits, . _ : -; at most 128)"),
  reference: z.string().min(1),
  registry: z.string(),
  repo: z.string(),
  revision: z.string(),
  format: z.string().min(1).optional(),
  license: z.string().nullable().optional(),
  /** Hosts the files may be redirected to (a registry's CDN). */
  allow_hosts: z.array(z.string().min(1)).optional(),
  files: z.array(LockedFile).min(1, "a model has at least one file"),
}).strict();
export type LockEntry = z.infer<typeof LockEntry>;

/** The whole lockfile. */
export const Lockfile = z.object({
  lockfile_version: z.literal(LOCKFILE_VERSION),
  models: z.array(LockEntry),
}).strict().superRefine((lock, ctx) => {
  const seen = new Set<string>();
  lock.models.forEach((m, i) => {
    if (seen.has(m.name)) {
      ctx.addIssue({ code: "custom", path: ["models", i, "name"], message: `"${m.name}" is locked twice` });
    }
    seen.add(m.name);
  });
});
export type Lockfile = z.infer<typeof Lockfile>;

/** The lockfile path: `--lockfile`, else `$LODE_LOCKFILE` (the config's `lockfile`), else `./lode.lock`. */
export function lockfilePath(flag: string | undefined, configured: string | undefined): string {
  return flag || configured || DEFAULT_LOCKFILE;
}

/** A lockfile with no models. */
export function emptyLockfile(): Lockfile {
  return { lockfile_version: LOCKFILE_VERSION, models: [] };
}

/** Parses lockfile text; `LOCKFILE_INVALID` names the line, the field, what was expected and what was found. */
export function parseLockfile(text: string, path: string): Lockfile {
  const boundary = { code: "LOCKFILE_INVALID", subject: `lockfile ${path}`, file: path } as const;
  const raw = parseJsonText(text, boundary);
  const version = (raw as { lockfile_version?: unknown } | null)?.lockfile_version;
  if (typeof version === "number" && version > LOCKFILE_VERSION) {
    const line = lineOfPath(text, ["lockfile_version"]);
    const message = `lockfile_version ${version}; this lode reads version ${LOCKFILE_VERSION}`;
    throw new LodeError("LOCKFILE_INVALID", `lockfile ${path} has ${message}`, {
      details: {
        file: path,
        line,
        field: "lockfile_version",
        issues: [{
          path: "lockfile_version",
          ...(line === null ? {} : { line }),
          expected: String(LOCKFILE_VERSION),
          received: String(version),
          message,
        }],
      },
      hint: "Upgrade lode.",
    });
  }
  return checkSchema(Lockfile, raw, boundary, text);
}

function sortedUnique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

/**
 * A locked file with exactly the lockfile's fields, in their fixed order; an absent pin stays absent.
 * Anything else `file` carries (a plan's request headers, say) is left out.
 */
export function lockedFile(
  file: { role: string; filename: string; url: string; mirrors?: string[]; sha256?: string; size?: number },
): LockedFile {
  return {
    role: file.role,
    filename: file.filename,
    url: file.url,
    ...(file.mirrors?.length ? { mirrors: [...file.mirrors] } : {}),
    ...(file.sha256 !== undefined ? { sha256: file.sha256 } : {}),
    ...(file.size !== undefined ? { size: file.size } : {}),
  };
}

function canonicalEntry(entry: LockEntry): LockEntry {
  const hosts = sortedUnique(entry.allow_hosts ?? []);
  return {
    name: entry.name,
    reference: entry.reference,
    registry: entry.registry,
    repo: entry.repo,
    revision: entry.revision,
    ...(entry.format !== undefined ? { format: entry.format } : {}),
    ...(entry.license !== undefined ? { license: entry.license } : {}),
    ...(hosts.length > 0 ? { allow_hosts: hosts } : {}),
    files: entry.files.map(lockedFile),
  };
}

/** The canonical form: models sorted by name (code-unit order), fields in a fixed order. */
function canonicalLockfile(lock: Lockfile): Lockfile {
  const models = checkSchema(Lockfile, lock, { code: "LOCKFILE_INVALID", subject: "the lockfile to write" })
    .models
    .map(canonicalEntry);
  models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { lockfile_version: LOCKFILE_VERSION, models };
}

/** Canonical text: 2-space JSON of {@link canonicalLockfile}, with a trailing newline. */
export function serializeLockfile(lock: Lockfile): string {
  return JSON.stringify(canonicalLockfile(lock), null, 2) + "\n";
}

/** Reads and validates the lockfile at `path`; `LOCKFILE_NOT_FOUND` when there is none. */
export async function readLockfile(path: string): Promise<Lockfile> {
  const lock = await readLockfileIfPresent(path);
  if (!lock) {
    throw new LodeError("LOCKFILE_NOT_FOUND", `no lockfile at ${path}`, { details: { path } });
  }
  return lock;
}

/** Like {@link readLockfile}, but `null` when the file does not exist. */
export async function readLockfileIfPresent(path: string): Promise<Lockfile | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new LodeError("IO", `cannot read lockfile ${path}: ${(e as Error).message}`, { details: { path } });
  }
  return parseLockfile(text, path);
}

/** Writes `lock` in canonical form, atomically (a reader sees the old file or the new one). */
export async function writeLockfile(path: string, lock: Lockfile): Promise<void> {
  await writeFileAtomic(path, serializeLockfile(lock)).catch((e) => {
    throw writeError(
      e,
      path,
      "Free space on that disk and run the command again; the lockfile is as it was.",
    );
  });
}

/** The entry named `name`, or undefined. */
export function findEntry(lock: Lockfile, name: string): LockEntry | undefined {
  return lock.models.find((m) => m.name === name);
}

/** `lock` with `entry` added, or replacing the entry of the same name. */
export function withEntry(lock: Lockfile, entry: LockEntry): Lockfile {
  return canonicalLockfile({ ...lock, models: [...lock.models.filter((m) => m.name !== entry.name), entry] });
}

/** `lock` without the entry `name` (unchanged when there is none). */
export function withoutEntry(lock: Lockfile, name: string): Lockfile {
  return canonicalLockfile({ ...lock, models: lock.models.filter((m) => m.name !== name) });
}

/** Files of `entry` that lack a sha256 or a size. */
export function unpinnedFiles(entry: LockEntry): LockedFile[] {
  return entry.files.filter((f) => f.sha256 === undefined || f.size === undefined);
}

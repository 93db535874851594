/**
 * The files of the OpenAI Files API, kept in the store's directory so that they outlive the daemon:
 * `<store>/openai/files/<id>.data` holds a file's bytes and `<id>.json` beside it its object (what
 * `GET /v1/files/{id}` answers). An upload streams to a temp file in that folder, is synced and renamed
 * to `<id>.data`, and only then is its object written (temp + rename): a file is listed once both are
 * whole, and a daemon killed mid-upload leaves a temp file, never a half file under an id. A batch's
 * output and error files are written by its job at `<id>.data` and registered once the batch ends.
 *
 * @example
 * ```ts
 * import { FileStore } from "./file_store.ts";
 * const files = new FileStore("/srv/models");
 * const file = await files.create(new Blob(["{}\n"]).stream(), { filename: "in.jsonl", purpose: "batch", maxBytes: 1024 });
 * (await files.get(file.id)).bytes; // 3
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "../../errors.ts";
import { joinPath } from "../../path.ts";
import { readJsonFile } from "../../store/json_file.ts";
import { writeAll, writeFileAtomic } from "../../store/atomic_write.ts";
import { fingerprintPath } from "./batch_fingerprint.ts";

/** An OpenAI file object, as `GET /v1/files/{id}` answers it. */
export const FileObject = z.object({
  id: z.string(),
  object: z.literal("file"),
  bytes: z.number().int().nonnegative(),
  created_at: z.number().int(),
  filename: z.string(),
  purpose: z.enum(["batch", "batch_output"]),
  status: z.literal("processed"),
  /** Unix seconds after which the file is deleted (`expires_after` of its upload); null: kept until deleted. */
  expires_at: z.number().int().nullable(),
  status_details: z.null(),
});
export type FileObject = z.infer<typeof FileObject>;

/** The purposes a file has here: uploaded for a batch, or written by one. */
export type FilePurpose = FileObject["purpose"];

const ID = /^file-[0-9a-z]{9}[0-9a-f]{16}$/;

/**
 * A new file id: `file-` and a time-ordered tail (base-36 milliseconds, then random hex), so ids sort
 * by creation.
 *
 * @example
 * ```ts
 * newFileId(0); // "file-000000000…"
 * ```
 */
export function newFileId(now = Date.now()): string {
  const random = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0"));
  return `file-${now.toString(36).padStart(9, "0")}${random.join("")}`;
}

/** `FILE_NOT_FOUND` (404 on the HTTP front) for file `id`, in OpenAI's words. */
export function noSuchFile(id: string, param = "file_id"): LodeError {
  return new LodeError("FILE_NOT_FOUND", `No such File object: ${id}`, {
    details: { field: param, id },
    hint: "GET /v1/files lists the files this server keeps; upload one with POST /v1/files.",
  });
}

/** True when `file` has an `expires_at` at or before `nowSeconds` (Unix seconds): to the API, it is gone. */
export function fileExpired(file: FileObject, nowSeconds: number): boolean {
  return file.expires_at !== null && file.expires_at <= nowSeconds;
}

/** The shortest and longest time a file may be given before it expires, in seconds (OpenAI's): an hour, 30 days. */
export const EXPIRES_AFTER_SECONDS = { min: 3600, max: 30 * 24 * 3600 } as const;

/** Options of {@link FileStore.create}. */
export interface CreateFile {
  filename: string;
  purpose: FilePurpose;
  /** Bytes allowed; past them the upload stops with `FRAME_TOO_LARGE` and nothing is kept. */
  maxBytes: number;
  /** Unix milliseconds. Default `Date.now()`. */
  now?: number;
  /** Seconds after its creation the file expires (is deleted); absent: it is kept until deleted. */
  expiresAfterSeconds?: number;
}

/** The files of one store (see the module doc). */
export class FileStore {
  /** `<store>/openai/files`. */
  readonly dir: string;

  constructor(storeRoot: string) {
    this.dir = joinPath(storeRoot, "openai", "files");
  }

  /** Where file `id`'s bytes are (whether or not it exists). */
  dataPath(id: string): string {
    return joinPath(this.dir, `${id}.data`);
  }

  /** `id`'s path relative to the store's `openai` folder (a batch job's directory). */
  relativeDataPath(id: string): string {
    return `files/${id}.data`;
  }

  /**
   * Streams `bytes` into a new file and returns its object. `FRAME_TOO_LARGE` past `maxBytes`; an error
   * of the stream (the client went away) is rethrown; either way the temp file is removed.
   */
  async create(bytes: ReadableStream<Uint8Array>, o: CreateFile): Promise<FileObject> {
    await Deno.mkdir(this.dir, { recursive: true });
    const now = o.now ?? Date.now();
    const id = newFileId(now);
    const tmp = joinPath(this.dir, `.tmp-${crypto.randomUUID()}`);
    let size = 0;
    try {
      {
        using file = await Deno.open(tmp, { write: true, createNew: true });
        for await (const chunk of bytes) {
          size += chunk.length;
          // Leaving the loop cancels the stream (an upload's rest is read and dropped).
          if (size > o.maxBytes) throw fileTooLarge(o.maxBytes);
          await writeAll(file, chunk);
        }
        await file.sync();
      }
      await Deno.rename(tmp, this.dataPath(id));
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    return await this.register(id, {
      filename: o.filename,
      purpose: o.purpose,
      bytes: size,
      now,
      ...(o.expiresAfterSeconds === undefined ? {} : { expiresAfterSeconds: o.expiresAfterSeconds }),
    });
  }

  /** Writes the object of `id`, whose bytes are at {@link dataPath} (a batch's output): it is listed from now on. */
  async register(
    id: string,
    o: { filename: string; purpose: FilePurpose; bytes: number; now?: number; expiresAfterSeconds?: number },
  ): Promise<FileObject> {
    const created = Math.floor((o.now ?? Date.now()) / 1000);
    const object: FileObject = {
      id,
      object: "file",
      bytes: o.bytes,
      created_at: created,
      filename: o.filename,
      purpose: o.purpose,
      status: "processed",
      expires_at: o.expiresAfterSeconds === undefined ? null : created + o.expiresAfterSeconds,
      status_details: null,
    };
    await writeFileAtomic(joinPath(this.dir, `${id}.json`), JSON.stringify(object) + "\n");
    return object;
  }

  /** The object of file `id`; `FILE_NOT_FOUND` when there is none. */
  async get(id: string): Promise<FileObject> {
    const found = ID.test(id) ? await this.#read(joinPath(this.dir, `${id}.json`)) : null;
    if (found === null) throw noSuchFile(id);
    return found;
  }

  /** True when file `id` exists. */
  async has(id: string): Promise<boolean> {
    return ID.test(id) && await this.#read(joinPath(this.dir, `${id}.json`)) !== null;
  }

  /** The bytes of file `id` (open for reading); `FILE_NOT_FOUND` when there is none. */
  async open(id: string): Promise<{ object: FileObject; file: Deno.FsFile }> {
    const object = await this.get(id);
    try {
      return { object, file: await Deno.open(this.dataPath(id), { read: true }) };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw noSuchFile(id);
      throw e;
    }
  }

  /** Every file, oldest first. */
  async list(): Promise<FileObject[]> {
    const out: FileObject[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        // `<id>.json` only: a batch job keeps its fingerprint beside its output (`<id>.data.lode-batch.json`).
        if (!entry.isFile || !entry.name.endsWith(".json") || !ID.test(entry.name.slice(0, -5))) continue;
        const object = await this.#read(joinPath(this.dir, entry.name));
        if (object !== null) out.push(object);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return out.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /**
   * Deletes file `id` (its object first: it is gone from the list at once), and the fingerprint a batch keeps
   * beside its output; `FILE_NOT_FOUND` when there is none.
   */
  async delete(id: string): Promise<void> {
    await this.get(id);
    await Deno.remove(joinPath(this.dir, `${id}.json`)).catch(ignoreNotFound);
    await Deno.remove(this.dataPath(id)).catch(ignoreNotFound);
    await Deno.remove(fingerprintPath(this.dataPath(id))).catch(ignoreNotFound);
  }

  #read(path: string): Promise<FileObject | null> {
    return readJsonFile(path, FileObject); // written whole (renamed over): a broken one is not lode's
  }
}

/** `FRAME_TOO_LARGE` (413) for an upload over `limit` bytes. */
export function fileTooLarge(limit: number): LodeError {
  return new LodeError("FRAME_TOO_LARGE", `the file is larger than the limit of ${limit} bytes`, {
    details: { field: "file", limit },
    hint: 'Split the requests into several files, each within the limit (docs/daemon.md, "Batches").',
  });
}

function ignoreNotFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

/**
 * The OpenAI Files API on the HTTP front, for batches: `POST /v1/files` (multipart/form-data with a
 * `file` and `purpose=batch`, streamed to disk, at most {@link MAX_FILE_BYTES}; `expires_after[anchor]`
 * `created_at` and `expires_after[seconds]` (an hour to 30 days) give it an `expires_at`, from which it is
 * gone to this API and the daemon deletes it), `GET /v1/files`
 * (`purpose`, `order`, `after`, `limit`), `GET /v1/files/{id}`, `GET /v1/files/{id}/content` and
 * `DELETE /v1/files/{id}`. Files live in the store (file_store.ts). Errors are OpenAI's error bodies:
 * another purpose or an empty file is 400 (`param` names the field), a file over the limit 413, an
 * unknown id 404.
 *
 * @example
 * ```ts
 * import { FileStore } from "./file_store.ts";
 * import { FilesApi } from "./files_api.ts";
 * const api = new FilesApi({ files: new FileStore("/srv/models") });
 * const answer = await api.handle(new Request("http://127.0.0.1/v1/files"), "/v1/files"); // 200, a list
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import {
  EXPIRES_AFTER_SECONDS,
  fileExpired,
  type FileObject,
  type FileStore,
  fileTooLarge,
  noSuchFile,
} from "./file_store.ts";
import { badForm, readMultipart } from "./multipart.ts";
import { pathSegments } from "../openai/http_intake.ts";
import { json, methodNotAllowed } from "../openai/openai_responses.ts";
import { badRequest } from "../openai/openai_translate.ts";
import { listPage } from "./list_page.ts";

/** The largest upload, in bytes: OpenAI's limit for a batch input file. */
export const MAX_FILE_BYTES = 200 * 1024 * 1024;

/** Options of {@link FilesApi}. */
export interface FilesApiOptions {
  files: FileStore;
  /** Largest upload. Default {@link MAX_FILE_BYTES}. */
  maxFileBytes?: number;
  /** The unfinished batch reading file `id`, if any (such a file is not deleted). */
  usedBy?: (id: string) => Promise<string | null>;
  /** Wall clock in milliseconds (a file past its `expires_at` is gone). Default `Date.now`. */
  clock?: () => number;
}

/** `/v1/files` and below (see the module doc). */
export class FilesApi {
  readonly #o: FilesApiOptions;
  readonly #max: number;

  constructor(options: FilesApiOptions) {
    this.#o = options;
    this.#max = options.maxFileBytes ?? MAX_FILE_BYTES;
  }

  /** Answers a request for `path` (`/v1/files…`, no trailing slash); throws errors for the front to encode. */
  async handle(req: Request, path: string): Promise<Response> {
    const rest = pathSegments(path, "/v1/files");
    if (rest.length === 0) {
      if (req.method === "POST") return json(200, await this.#upload(req));
      if (req.method === "GET") return json(200, await this.#list(new URL(req.url).searchParams));
      return methodNotAllowed("GET, POST", path);
    }
    const id = rest[0]!;
    if (rest.length === 1) {
      if (req.method === "GET") return json(200, await this.#live(id));
      if (req.method === "DELETE") return json(200, await this.#delete(id));
      return methodNotAllowed("GET, DELETE", path);
    }
    if (rest.length === 2 && rest[1] === "content") {
      if (req.method !== "GET") return methodNotAllowed("GET", path);
      const { object, file } = await this.#o.files.open(id);
      if (fileExpired(object, this.#nowSeconds())) {
        file.close();
        throw noSuchFile(id);
      }
      return new Response(file.readable, {
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(object.bytes),
          "content-disposition": `attachment; filename="${object.filename.replace(/["\\\r\n]/g, "_")}"`,
        },
      });
    }
    throw new LodeError("UNKNOWN_OP", `no endpoint ${path}`, { details: { path } });
  }

  async #upload(req: Request): Promise<FileObject> {
    const declared = Number(req.headers.get("content-length") ?? NaN);
    // The form's other fields and its framing are small: a body this much over the limit is too large.
    if (declared > this.#max + 64 * 1024) throw fileTooLarge(this.#max);
    let stored: FileObject | null = null;
    let filename = "";
    try {
      const form = await readMultipart(req, {
        onFile: async (part) => {
          if (part.name !== "file" || stored !== null) {
            await part.stream.cancel();
            return;
          }
          filename = part.filename;
          // The purpose may come after the file: it is checked below, and the file removed if wrong.
          stored = await this.#o.files.create(part.stream, {
            filename: part.filename,
            purpose: "batch",
            maxBytes: this.#max,
          });
        },
      });
      checkPurpose(form.fields.get("purpose"));
      const expiresAfter = expiresAfterOf(form.fields);
      if (stored === null) throw badForm("the upload has no `file` part");
      if ((stored as FileObject).bytes === 0) {
        throw new LodeError("BAD_REQUEST", `the file ${JSON.stringify(filename)} is empty`, {
          details: { field: "file" },
          hint:
            'A batch input file holds one request a line: {"custom_id", "method": "POST", "url", "body"}.',
        });
      }
      if (expiresAfter === null) return stored;
      const file = stored as FileObject;
      return await this.#o.files.register(file.id, {
        filename: file.filename,
        purpose: file.purpose,
        bytes: file.bytes,
        now: file.created_at * 1000,
        expiresAfterSeconds: expiresAfter,
      });
    } catch (e) {
      if (stored !== null) await this.#o.files.delete((stored as FileObject).id).catch(() => {});
      throw e;
    }
  }

  async #list(query: URLSearchParams): Promise<unknown> {
    const purpose = query.get("purpose");
    const now = this.#nowSeconds();
    const all = (await this.#o.files.list()).filter((f) =>
      (purpose === null || f.purpose === purpose) && !fileExpired(f, now)
    );
    return listPage(all, query, { defaultLimit: 10_000, maxLimit: 10_000, defaultOrder: "desc" });
  }

  /**
   * The object of file `id`; `FILE_NOT_FOUND` when there is none or it is past its `expires_at` (its bytes
   * wait for the daemon's next sweep, or for the end of the batch reading them).
   */
  async #live(id: string): Promise<FileObject> {
    const object = await this.#o.files.get(id);
    if (fileExpired(object, this.#nowSeconds())) throw noSuchFile(id);
    return object;
  }

  #nowSeconds(): number {
    return Math.floor((this.#o.clock ?? Date.now)() / 1000);
  }

  async #delete(id: string): Promise<{ id: string; object: "file"; deleted: true }> {
    await this.#live(id);
    const batch = await this.#o.usedBy?.(id) ?? null;
    if (batch !== null) {
      throw new LodeError(
        "BAD_REQUEST",
        `the file ${id} is the input of batch ${batch}, which has not ended`,
        {
          details: { field: "file_id", id, batch },
          hint:
            `Wait for the batch to end, or cancel it (POST /v1/batches/${batch}/cancel), then delete the file.`,
        },
      );
    }
    await this.#o.files.delete(id);
    return { id, object: "file", deleted: true };
  }
}

/**
 * The seconds of `expires_after` (`expires_after[anchor]` `created_at`, `expires_after[seconds]`, as the
 * openai clients send the object in a form), or null when the form has none.
 */
export function expiresAfterOf(fields: Map<string, string>): number | null {
  const anchor = fields.get("expires_after[anchor]");
  const seconds = fields.get("expires_after[seconds]");
  if (anchor === undefined && seconds === undefined) return null;
  if (anchor !== "created_at") {
    throw badRequest(
      "expires_after.anchor",
      `expires_after[anchor] must be "created_at", got ${JSON.stringify(anchor ?? null)}`,
    );
  }
  const n = Number(seconds);
  const { min, max } = EXPIRES_AFTER_SECONDS;
  if (seconds === undefined || !/^\d+$/.test(seconds) || n < min || n > max) {
    throw badRequest(
      "expires_after.seconds",
      `expires_after[seconds] must be a whole number of seconds from ${min} to ${max}, got ${
        JSON.stringify(seconds ?? null)
      }`,
    );
  }
  return n;
}

/** `purpose` must be `batch` (the only purpose this server has a use for). */
function checkPurpose(purpose: string | undefined): void {
  if (purpose === "batch") return;
  throw badRequest(
    "purpose",
    purpose === undefined
      ? "the upload has no `purpose` field; this server takes files with purpose `batch`"
      : `this server takes files with purpose \`batch\`, not ${JSON.stringify(purpose)}`,
  );
}

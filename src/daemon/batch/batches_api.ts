/**
 * The OpenAI Batch API on the HTTP front: `POST /v1/batches` (create), `GET /v1/batches` (list: `after`,
 * `limit`), `GET /v1/batches/{id}` (retrieve) and `POST /v1/batches/{id}/cancel`, answered by the
 * {@link BatchService}. Errors are thrown for the front to encode in OpenAI's shape. {@link createBatchApi}
 * puts them together with the Files API (files_api.ts) over a store, for the front to route to.
 *
 * @example
 * ```ts
 * import type { BatchService } from "./batch_service.ts";
 * import { BatchesApi } from "./batches_api.ts";
 * const answer = (service: BatchService) =>
 *   new BatchesApi({ service, maxBodyBytes: 1 << 20 }).handle(new Request("http://127.0.0.1/v1/batches"), "/v1/batches");
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { MountedApi } from "../openai/openai_http.ts";
import { type BatchJobs, BatchService } from "./batch_service.ts";
import { FileStore } from "./file_store.ts";
import { FilesApi } from "./files_api.ts";
import { pathSegments, readJsonBody } from "../openai/http_intake.ts";
import { json, methodNotAllowed } from "../openai/openai_responses.ts";

/** Options of {@link BatchesApi}. */
export interface BatchesApiOptions {
  service: BatchService;
  /** Largest create body. */
  maxBodyBytes: number;
}

/** `/v1/batches` and below. */
export class BatchesApi {
  readonly #o: BatchesApiOptions;

  constructor(options: BatchesApiOptions) {
    this.#o = options;
  }

  /** Answers a request for `path` (`/v1/batches…`, no trailing slash). */
  async handle(req: Request, path: string): Promise<Response> {
    const rest = pathSegments(path, "/v1/batches");
    const { service } = this.#o;
    if (rest.length === 0) {
      if (req.method === "POST") {
        return json(200, await service.create(await readJsonBody(req, this.#o.maxBodyBytes)));
      }
      if (req.method === "GET") return json(200, await service.list(new URL(req.url).searchParams));
      return methodNotAllowed("GET, POST", path);
    }
    if (rest.length === 1) {
      if (req.method !== "GET") return methodNotAllowed("GET", path);
      return json(200, await service.retrieve(rest[0]!));
    }
    if (rest.length === 2 && rest[1] === "cancel") {
      if (req.method !== "POST") return methodNotAllowed("POST", path);
      return json(200, await service.cancel(rest[0]!));
    }
    throw new LodeError("UNKNOWN_OP", `no endpoint ${path}`, { details: { path } });
  }
}

/** Milliseconds between two sweeps of the batches and files (expiry; batch_service.ts `sweep`). */
export const SWEEP_EVERY_MS = 60_000;

/** The Files and Batch APIs together, as the HTTP front routes to them. */
export interface BatchApi extends MountedApi {
  /**
   * Resumes the batches a stopped daemon left, registers the files of those that ended, expires batches past
   * their window and deletes expired files — now, then every `sweepEveryMs` until {@link close}.
   */
  start(): Promise<void>;
  /** Stops the periodic sweeps. */
  close(): void;
}

/** The Files and Batch APIs of the store at `storeRoot`, run by `jobs`. */
export function createBatchApi(o: {
  storeRoot: string;
  jobs: BatchJobs;
  maxBodyBytes?: number;
  maxFileBytes?: number;
  notice?: (line: string) => void;
  /** Wall clock in milliseconds. Default `Date.now`. */
  clock?: () => number;
  /** Milliseconds between sweeps. Default {@link SWEEP_EVERY_MS}. */
  sweepEveryMs?: number;
}): BatchApi {
  const store = new FileStore(o.storeRoot);
  const service = new BatchService({
    storeRoot: o.storeRoot,
    jobs: o.jobs,
    files: store,
    ...(o.notice ? { notice: o.notice } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
  });
  const files = new FilesApi({
    files: store,
    usedBy: (id) => service.usedBy(id),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.maxFileBytes !== undefined ? { maxFileBytes: o.maxFileBytes } : {}),
  });
  const batches = new BatchesApi({ service, maxBodyBytes: o.maxBodyBytes ?? 4 * 1024 * 1024 });
  const route = (path: string) => /^\/v1\/(files|batches)(\/|$)/.exec(path)?.[1];
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  return {
    serves: (path) => route(path) !== undefined,
    handle: (req, path) => (route(path) === "files" ? files : batches).handle(req, path),
    start: async () => {
      await service.start();
      if (closed || timer !== undefined) return;
      const every = setInterval(() => {
        service.sweep().catch((e) => o.notice?.(`sweeping batches: ${e}`));
      }, o.sweepEveryMs ?? SWEEP_EVERY_MS);
      Deno.unrefTimer(every);
      timer = every;
    },
    close: () => {
      closed = true;
      clearInterval(timer);
    },
  };
}

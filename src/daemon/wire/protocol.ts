/**
 * The daemon's wire protocol, version {@link PROTOCOL_VERSION}: the schemas of its NDJSON frames
 * over a Unix socket (docs/protocol.md is the reference, with an example
 * line for every frame).
 *
 * A request is one JSON object on one line with a client-chosen `id` and an
 * `op`; every response frame carries that `id` and a `type`. Streams end with
 * exactly one terminal frame: `done` (with `usage`) or `error` (with a
 * stable `code`). Unknown request fields are ignored (newer clients can talk
 * to older daemons); a request may name the protocol version it speaks in
 * `v`, and a daemon that speaks another answers `BAD_REQUEST` naming `v`.
 *
 * Reading a request line and the error frames that answer it are in decode_request.ts.
 *
 * @example
 * ```ts
 * import { Request } from "./protocol.ts";
 * Request.parse({ id: "1", op: "tokenize", model: "m", text: "hi" }).op; // "tokenize"
 * ```
 * @module
 */
import { z } from "zod";
import { StopReason } from "../../events/inference_event.ts";
import { Capabilities, StatusEvent } from "../../events/status_event.ts";
import { DownloadEvent } from "../../events/download_event.ts";
import { JobEvent } from "../../events/job_event.ts";
import { JobRecord } from "../../jobs/job_record.ts";

/** The protocol version this daemon speaks; reported by `health` and accepted as a request's `v`. */
export const PROTOCOL_VERSION = 1;

/** Default limit of one request line, in bytes (the newline excluded). */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Longest accepted request id, in characters. */
export const MAX_ID_LENGTH = 256;

/** A request's id. */
export const RequestId = z.string().min(1).max(MAX_ID_LENGTH);
/** Longest accepted model name, in characters. */
export const MAX_MODEL_LENGTH = 1024;
const Model = z.string().min(1).max(MAX_MODEL_LENGTH);
const Count = z.number().int().nonnegative();
const JobId = z.string().min(1).max(64);
const Millis = z.number().nonnegative();

/** OpenAI-style sampling fields shared by `generate` and `chat`. */
const Sampling = {
  max_tokens: z.number().int().positive().optional(),
  temperature: z.number().nonnegative().optional(),
  seed: z.number().int().optional(),
  top_k: z.number().int().nonnegative().optional(),
  top_p: z.number().gt(0).max(1).optional(),
  repeat_penalty: z.number().positive().optional(),
  /** One stop string or several (OpenAI accepts both). */
  stop: z.union([z.string().min(1), z.array(z.string().min(1))]).optional(),
  /** A JSON Schema the output must match (see `GenerateOptions.jsonSchema`). */
  json_schema: z.record(z.unknown()).optional(),
};

/** The sampling fields of a `generate` or `chat` request. */
export type SamplingFields = z.infer<z.ZodObject<typeof Sampling>>;

const envelope = <O extends string>(op: O) => ({
  id: RequestId,
  op: z.literal(op),
  v: z.number().int().optional(),
});

/** A tool call: of a `done` frame (the model's), or of an assistant message given back (`arguments`: JSON text). */
export const ToolCall = z.object({ id: z.string().min(1), name: z.string().min(1), arguments: z.string() });
export type ToolCall = z.infer<typeof ToolCall>;

/**
 * One message of a `chat` request. An assistant message may carry the `tool_calls` it made; a `tool` message
 * is the result of one of them, naming it by `tool_call_id`.
 */
export const ChatMessage = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string(),
  tool_calls: z.array(ToolCall).optional(),
  tool_call_id: z.string().min(1).optional(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

/** A tool the model may call: a name, what it does, the JSON Schema of its arguments. */
export const ToolDefinition = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 letters, digits, _ or -"),
  description: z.string().optional(),
  parameters: z.record(z.unknown()).optional(),
});

/** The tool fields of a `chat` request (see `GenerateOptions.tools`). */
const Tools = {
  tools: z.array(ToolDefinition).optional(),
  /** `auto` (default), `none`, `required`, or `{"name": …}`: that tool. */
  tool_choice: z.union([z.enum(["auto", "none", "required"]), z.object({ name: z.string().min(1) })])
    .optional(),
  /** false: at most one call per answer. */
  parallel_tool_calls: z.boolean().optional(),
};

/** The tool fields of a `chat` request. */
export type ToolFields = z.infer<z.ZodObject<typeof Tools>>;

/** Every request, tagged by `op`. */
export const Request = z.discriminatedUnion("op", [
  z.object({ ...envelope("generate"), model: Model, prompt: z.string(), ...Sampling }),
  z.object({
    ...envelope("chat"),
    model: Model,
    messages: z.array(ChatMessage).min(1),
    ...Sampling,
    ...Tools,
  }),
  z.object({
    ...envelope("embed"),
    model: Model,
    input: z.union([z.string(), z.array(z.string()).min(1)]),
    normalize: z.boolean().optional(),
  }),
  z.object({ ...envelope("tokenize"), model: Model, text: z.string() }),
  /** Token ids → text; an id outside the model's vocabulary is `BAD_REQUEST` naming `tokens.<index>`. */
  z.object({ ...envelope("detokenize"), model: Model, tokens: z.array(Count) }),
  /** The exact prompt `chat` would feed the model for `messages` (its chat template, the assistant's turn open). */
  z.object({ ...envelope("render_chat"), model: Model, messages: z.array(ChatMessage).min(1) }),
  z.object({ ...envelope("models") }),
  z.object({
    ...envelope("load"),
    model: Model,
    context_size: z.number().int().positive().optional(),
    keep_alive_ms: Count.optional(),
  }),
  z.object({ ...envelope("unload"), model: Model }),
  z.object({ ...envelope("cancel"), target: RequestId }),
  z.object({ ...envelope("health") }),
  /**
   * Runs a job in the daemon (a job survives its client): `kind` and its `spec` as `lode job run` takes
   * them; relative paths of the spec start at `cwd` (absolute; default the daemon's). A model-download job
   * asking for what a running job already pulls joins it (`job.shared` true).
   */
  z.object({
    ...envelope("job_submit"),
    kind: z.string().min(1),
    spec: z.record(z.unknown()).default({}),
    cwd: z.string().startsWith("/").optional(),
  }),
  /** Every job of the store, oldest first, with live progress for the daemon's running ones. */
  z.object({ ...envelope("job_list") }),
  z.object({ ...envelope("job_get"), job: JobId }),
  /** The job's events from after sequence number `since` (default 0: all), then live until it finishes. */
  z.object({ ...envelope("job_watch"), job: JobId, since: Count.optional() }),
  z.object({ ...envelope("job_cancel"), job: JobId }),
  /** Runs an interrupted job again in the daemon (a download continues from its partial). */
  z.object({ ...envelope("job_resume"), job: JobId }),
]);
export type Request = z.infer<typeof Request>;

/** A request op name. */
export type Op = Request["op"];

/** The request of one op. */
export type RequestOf<O extends Op> = Extract<Request, { op: O }>;

/** Every op, in the order docs/protocol.md lists them. */
export const OPS: readonly Op[] = Request.options.map((o) => o.shape.op.value);

/**
 * Counters and timings of a finished request (`done.usage`): the wire form of a generation's `Usage`
 * (protocol_backend.ts encodes it), and `queue_ms` alone for `embed`.
 */
export const DoneUsage = z.object({
  prompt_tokens: Count.optional(),
  completion_tokens: Count.optional(),
  total_tokens: Count.optional(),
  /** Time spent waiting in the admission queue. */
  queue_ms: Millis.optional(),
  load_ms: Millis.optional(),
  time_to_first_token_ms: Millis.nullable().optional(),
  total_ms: Millis.optional(),
  tokens_per_second: z.number().nonnegative().optional(),
});
export type DoneUsage = z.infer<typeof DoneUsage>;

/** One model as `models` lists it. */
export const ModelEntry = z.object({
  name: z.string(),
  loaded: z.boolean(),
  size_bytes: Count.optional(),
  digest: z.string().optional(),
  context_size: Count.optional(),
  capabilities: Capabilities.optional(),
  /** Milliseconds until an idle loaded model is unloaded (keep-alive), when loaded. */
  expires_in_ms: Millis.nullable().optional(),
});
export type ModelEntry = z.infer<typeof ModelEntry>;

/** Facts about a loaded model (`loaded.info`): what a client needs to use it as it would an in-process session. */
export const ModelInfo = z.object({
  /** GGUF `general.architecture`. */
  architecture: z.string(),
  train_context_size: Count,
  threads: Count,
  /** True when the model has a chat template (`lode run` then answers through `chat`). */
  has_chat_template: z.boolean(),
  /** Length of the vectors `embed` returns. */
  embedding_size: Count,
  /** How long the model took to load when it was loaded (`load_ms` is how long this request took). */
  model_load_ms: Millis,
  /** The CPUs the model's runner is pinned to (`--cpu-affinity`); absent when the kernel places it. */
  cpus: z.array(Count).optional(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

/** A job as `job_list` lists it (`lode job ls`'s columns). */
const JobSummaryFrame = JobRecord.pick({
  id: true,
  kind: true,
  state: true,
  created_at: true,
  finished_at: true,
  progress: true,
  pid: true,
  pid_start: true,
}).extend({
  model: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});

const reply = <T extends string>(type: T) => ({ id: RequestId, type: z.literal(type) });

/** The `error` frame: `id` is null when the request's id could not be read. */
export const ErrorFrame = z.object({
  id: RequestId.nullable(),
  type: z.literal("error"),
  /** A code of the catalogue in src/errors.ts; a string here so clients accept codes added later. */
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
  details: z.record(z.unknown()).optional(),
});
export type ErrorFrame = z.infer<typeof ErrorFrame>;

/** Every frame the inference socket sends, tagged by `type`. */
export const ResponseFrame = z.discriminatedUnion("type", [
  z.object({ ...reply("token"), text: z.string() }),
  /**
   * A piece of a tool call while a `chat` answer generates it: `index` of the call in the answer; its first
   * piece has `call_id` and `name`; `arguments` continues its JSON text (`done.tool_calls` has the whole calls).
   */
  z.object({
    ...reply("tool_call"),
    index: Count,
    call_id: z.string().optional(),
    name: z.string().optional(),
    arguments: z.string(),
  }),
  z.object({ ...reply("queued"), position: z.number().int().positive() }),
  /**
   * A phase of loading the request's model while the request waits for it (a pull's `download`
   * progress, `verify`, `mmap`, `kv_cache`, …): `phase` and its fields, flattened as on the admin stream.
   */
  z.object({ ...reply("loading"), phase: z.string() }).passthrough(),
  /** The end of a request; a chat answer that calls tools has `stop_reason` `tool_calls` and the calls. */
  z.object({
    ...reply("done"),
    usage: DoneUsage.optional(),
    stop_reason: StopReason.optional(),
    tool_calls: z.array(ToolCall).optional(),
  }),
  ErrorFrame,
  z.object({
    ...reply("health"),
    protocol: z.number().int(),
    version: z.string(),
    /** The daemon's lifecycle status (a `StatusEvent` status: starting, ready, draining, …). */
    status: z.string(),
    uptime_ms: Millis.optional(),
    queued: Count.optional(),
    running: Count.optional(),
    loaded: z.array(z.string()).optional(),
    /** The directory of the store the daemon serves (clients of another store do not use it). */
    store: z.string().optional(),
  }),
  z.object({ ...reply("models"), models: z.array(ModelEntry) }),
  z.object({ ...reply("tokens"), tokens: z.array(z.number().int()) }),
  /** The answer of `detokenize` and of `render_chat`. */
  z.object({ ...reply("text"), text: z.string() }),
  z.object({ ...reply("embeddings"), embeddings: z.array(z.array(z.number())) }),
  z.object({
    ...reply("loaded"),
    model: z.string(),
    load_ms: Millis,
    context_size: Count,
    /** How long the model stays loaded once idle (null: until evicted or unloaded). */
    keep_alive_ms: Millis.nullable().optional(),
    /** What the loaded model can do, and what it is: the daemon always knows both once it is loaded. */
    capabilities: Capabilities,
    info: ModelInfo,
  }),
  z.object({ ...reply("unloaded"), model: z.string(), was_loaded: z.boolean() }),
  z.object({ ...reply("cancelled"), target: RequestId, state: z.enum(["queued", "running", "not_found"]) }),
  /** A job's record as it stands; `shared` when a `job_submit` joined a running job. */
  z.object({ ...reply("job"), job: JobRecord, shared: z.boolean().optional() }),
  z.object({ ...reply("jobs"), jobs: z.array(JobSummaryFrame) }),
  /** One event of a watched job: `seq` is its line number in the job's `events.ndjson`. */
  z.object({ ...reply("job_event"), seq: z.number().int().positive(), event: JobEvent }),
  /** A download event of a watched job's pull (live, not numbered). */
  z.object({ ...reply("job_download"), event: DownloadEvent }),
]);
export type ResponseFrame = z.infer<typeof ResponseFrame>;

/** A response frame of one type. */
export type FrameOf<T extends ResponseFrame["type"]> = Extract<ResponseFrame, { type: T }>;

/**
 * Frames of the admin socket: `{"id":"admin","type":"status",…}` with the status event's fields
 * flattened, and `{"id":"admin","type":"job","event":{…}}` for each event of a job the daemon runs.
 */
export const AdminFrame = z.union([
  z.intersection(z.object({ id: z.literal("admin"), type: z.literal("status") }), StatusEvent),
  z.object({ id: z.literal("admin"), type: z.literal("job"), event: JobEvent }),
]);
export type AdminFrame = z.infer<typeof AdminFrame>;

/**
 * The one error catalogue of lode: every error code a user can see ({@link ERROR_CODES}), with the
 * process exit code the CLI uses for it ({@link EXIT}) and a hint that says what to do. The error that
 * carries a code is `LodeError` (`errors.ts`, which re-exports this catalogue).
 *
 * Codes are API: never rename one; add new ones at the end. docs/exit-codes.md lists every code.
 *
 * @example
 * ```ts
 * import { ERROR_CODES, EXIT } from "./errors_catalogue.ts";
 * ERROR_CODES.DIGEST_MISMATCH.exit === EXIT.VERIFY_FAILED; // true
 * ```
 * @module
 */

/** Process exit codes. Documented in docs/exit-codes.md; stable. */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  VERIFY_FAILED: 4,
  NETWORK: 5,
  REFUSED: 6,
  LOCKED: 7,
  NO_SPACE: 8,
  STORE_CORRUPT: 9,
  INFERENCE: 10,
  INTERRUPTED: 130,
  /** The reader of stdout or stderr went away (a closed pipe): 128 + SIGPIPE, nothing printed. */
  OUTPUT_CLOSED: 141,
} as const;

export interface CatalogueEntry {
  /** Process exit code for this error. */
  readonly exit: number;
  /** What the user can do about it. */
  readonly hint: string;
  /**
   * The hint when a daemon raised the error and the remedy is a setting of the process that failed:
   * the daemon's (`lode serve` flags, its environment), not the client's ({@link asDaemonError}).
   */
  readonly daemon?: string;
}

/** Every error code lode can produce, with its exit code and the advice shown to users. */
export const ERROR_CODES = {
  USAGE: { exit: EXIT.USAGE, hint: "Run the command with --help to see its options and an example." },
  INVALID_REF: {
    exit: EXIT.USAGE,
    hint:
      "Use hf:OWNER/REPO[:QUANT][@REVISION], https://HOST/PATH/FILE.gguf[#sha256=HEX], file:PATH, or the name of a model already in the store (see `lode ls`).",
  },
  OCI_UNSUPPORTED: {
    exit: EXIT.USAGE,
    hint:
      "lode pulls CNCF ModelPack, Docker Model Runner and Ollama artifacts with uncompressed layers (docs/oci.md); the error lists the types it reads.",
  },
  MODEL_NOT_FOUND: {
    exit: EXIT.NOT_FOUND,
    hint: "See `lode ls` for the models in this store, or pull it first.",
  },
  HTTP_NOT_FOUND: { exit: EXIT.NOT_FOUND, hint: "Check the URL; the origin says the file does not exist." },
  DIGEST_MISMATCH: {
    exit: EXIT.VERIFY_FAILED,
    hint:
      "The bytes are not the ones pinned. They were moved to locks/quarantine/; check the sha256 you gave, or the origin.",
  },
  SIZE_MISMATCH: {
    exit: EXIT.VERIFY_FAILED,
    hint: "The origin sent a different number of bytes than it announced; retry, or report it to the origin.",
  },
  HTTP_STATUS: {
    exit: EXIT.NETWORK,
    hint: "The origin answered with an error; retry later or check the URL.",
  },
  NETWORK: {
    exit: EXIT.NETWORK,
    hint: "Check your connection, proxy settings (HTTPS_PROXY) and the host name.",
    daemon:
      "The daemon made the connection: check its network, the proxy settings of the environment `lode serve` started with (HTTPS_PROXY), and the host name.",
  },
  TLS: {
    exit: EXIT.NETWORK,
    hint: "The server's certificate is not trusted. Pass --ca-cert FILE (or set DENO_CERT) for a private CA.",
    daemon:
      "The daemon does not trust the server's certificate; a client's --ca-cert does not reach it. Start `lode serve` with --ca-cert FILE (or DENO_CERT in its environment, or ca_certs in its config file) for a private CA.",
  },
  INSECURE_URL: {
    exit: EXIT.REFUSED,
    hint:
      "lode only downloads over https. Allow a host for plain http with --allow-http HOST (loopback mirrors, tests).",
    daemon:
      "The daemon only downloads over https. Allow a host for plain http where `lode serve` starts: --allow-http HOST (or LODE_ALLOW_HTTP, or allow_http in its config file).",
  },
  HOST_NOT_ALLOWED: {
    exit: EXIT.REFUSED,
    hint: "Add the host with --allow-host HOST (or LODE_ALLOW_HOSTS) if you trust it.",
    daemon:
      "The daemon's host policy refused it; a client's --allow-host does not reach it. If you trust the host, start `lode serve` with --allow-host HOST (or LODE_ALLOW_HOSTS, or allow_hosts in its config file).",
  },
  OFFLINE: {
    exit: EXIT.REFUSED,
    hint: "Drop --offline (or LODE_OFFLINE) to allow network access.",
    daemon:
      "The daemon runs offline (`lode serve --offline` or LODE_OFFLINE): put the model in the store first (`lode pull`, `lode sync`), or restart the daemon without it.",
  },
  LOCK_CONTENDED: {
    exit: EXIT.LOCKED,
    hint: "Another lode process is working on this model; wait for it, or drop --no-wait to queue behind it.",
  },
  INSUFFICIENT_SPACE: {
    exit: EXIT.NO_SPACE,
    hint:
      "Free some disk space (`lode rm`, `lode gc`), point MODELS_HOME / --store at a larger disk, or lower the free space lode keeps beyond a download (LODE_MIN_FREE_BYTES, or min_free_bytes in the config file; default 512 MiB).",
    daemon:
      "Free some disk space (`lode rm`, `lode gc`), or lower the free space the daemon keeps beyond a download: LODE_MIN_FREE_BYTES (or min_free_bytes in the config file) where `lode serve` starts (default 512 MiB).",
  },
  MANIFEST_INVALID: {
    exit: EXIT.STORE_CORRUPT,
    hint: "Remove or fix the named manifest file; `lode rm NAME` removes it, `lode pull` writes it again.",
  },
  BLOB_MISSING: {
    exit: EXIT.STORE_CORRUPT,
    hint: "The manifest names a blob that is not in the store; pull the model again to repair it.",
  },
  IO: { exit: EXIT.INTERNAL, hint: "Check permissions and free space of the store directory." },
  MODEL_LOAD_FAILED: {
    exit: EXIT.INFERENCE,
    hint: "The file could not be loaded as a model; check that it is a GGUF file this llama.cpp supports.",
  },
  INFERENCE_FAILED: { exit: EXIT.INFERENCE, hint: "Generation failed; rerun with --verbose for details." },
  INTERRUPTED: { exit: EXIT.INTERRUPTED, hint: "The operation was cancelled; run it again to continue." },
  INTERNAL: {
    exit: EXIT.INTERNAL,
    hint: "This is a bug in lode; please report it with the command you ran.",
  },
  STALLED: {
    exit: EXIT.NETWORK,
    hint: "The origin stopped sending bytes; run the pull again (it resumes), or raise LODE_STALL_SECONDS.",
    daemon:
      "The origin stopped sending bytes; send the request again (the pull resumes), or raise LODE_STALL_SECONDS where `lode serve` starts.",
  },
  ORIGIN_CHANGED: {
    exit: EXIT.NETWORK,
    hint: "The file changed on the origin while it was being downloaded; pull again once it is stable.",
  },
  ACCESS_DENIED: {
    exit: EXIT.REFUSED,
    hint:
      "The server refused access (HTTP 401/403): the model is private or gated. Give lode a token (HF_TOKEN for Hugging Face) and accept the model's terms on its page.",
    daemon:
      "The server refused access (HTTP 401/403): the model is private or gated. The daemon pulls with its own environment, not the client's: set HF_TOKEN where `lode serve` starts, and accept the model's terms on its page.",
  },
  LOCKFILE_INVALID: {
    exit: EXIT.USAGE,
    hint: "Fix the named line or field of the lockfile, or write it again with `lode lock add REF`.",
  },
  LOCKFILE_NOT_FOUND: {
    exit: EXIT.NOT_FOUND,
    hint: "Create it with `lode lock add REF` (in the directory of lode.lock), or pass --lockfile PATH.",
  },
  LOCKFILE_FROZEN: {
    exit: EXIT.REFUSED,
    hint:
      "Run `lode sync` without --frozen (or `lode lock add`) where the lockfile may change, and commit it.",
  },
  BUNDLE_INVALID: {
    exit: EXIT.VERIFY_FAILED,
    hint:
      "The file is not a complete lode bundle (made by `lode export`); copy or export it again. Nothing unverified was added to the store.",
  },
  GGUF_INVALID: {
    exit: EXIT.VERIFY_FAILED,
    hint:
      "The file is not a well-formed GGUF model (truncated, wrong magic, or a header out of bounds); pull or convert it again.",
  },
  SCHEMA_INVALID: {
    exit: EXIT.USAGE,
    hint:
      "Give a JSON Schema using type, enum, const, anyOf/oneOf, properties, required, additionalProperties, items, local $refs and the string/number/array bounds (docs/running.md lists what is enforced).",
  },
  SCHEMA_MISMATCH: {
    exit: EXIT.INFERENCE,
    hint:
      "The output broke a constraint the grammar cannot force (pattern, format, multipleOf …); run again with another seed or temperature, or loosen the schema.",
  },
  INSUFFICIENT_MEMORY: {
    exit: EXIT.INFERENCE,
    hint:
      "Free memory, use a smaller model or quantization, lower --ctx-size, or pass --no-memory-check to try anyway.",
    daemon:
      "Free memory, use a smaller model or quantization, or lower --ctx-size; the memory check is the daemon's: start `lode serve` with --no-memory-check to try anyway.",
  },
  BAD_JSON: {
    exit: EXIT.USAGE,
    hint: "Send one JSON object per line (UTF-8, ending with \\n); see docs/protocol.md for the frames.",
  },
  FRAME_TOO_LARGE: {
    exit: EXIT.USAGE,
    hint:
      "Send a shorter line: the daemon reads frames up to its limit (see docs/protocol.md); split the input.",
  },
  UNKNOWN_OP: {
    exit: EXIT.USAGE,
    hint:
      "Use one of the ops docs/protocol.md lists (generate, chat, embed, tokenize, detokenize, models, load, unload, cancel, health).",
  },
  BAD_REQUEST: {
    exit: EXIT.USAGE,
    hint:
      "Fix the named field of the request; docs/protocol.md gives every op's fields with an example line.",
  },
  QUEUE_FULL: {
    exit: EXIT.REFUSED,
    hint: "The daemon's queue is full; retry shortly, or start it with a larger --max-queue or --parallel.",
  },
  DRAINING: {
    exit: EXIT.REFUSED,
    hint: "The daemon is shutting down; start it again (`lode serve`) and retry, or run with --no-daemon.",
  },
  DAEMON_RUNNING: {
    exit: EXIT.LOCKED,
    hint:
      "A lode daemon is already serving this socket; use it, stop it (kill the named pid), or pass another --socket.",
  },
  RUNNER_CRASHED: {
    exit: EXIT.INFERENCE,
    hint:
      "The model's runner process died; the next request loads the model again. Check memory and the daemon log.",
  },
  CANCELLED: {
    exit: EXIT.INTERRUPTED,
    hint: "The request was cancelled (a cancel request or the client went away); send it again to run it.",
  },
  DAEMON_NOT_RUNNING: {
    exit: EXIT.NOT_FOUND,
    hint: "Start one with `lode serve` (or pass the --socket it listens on).",
  },
  CONFIG_INVALID: {
    exit: EXIT.USAGE,
    hint:
      "Fix the named field of the config file (docs/configuration.md lists its fields), or remove the file.",
  },
  FILE_NOT_FOUND: {
    exit: EXIT.NOT_FOUND,
    hint:
      "Check the path (a relative one starts from the current directory); `lode ls` lists the stored models.",
  },
  CONTEXT_LENGTH_EXCEEDED: {
    exit: EXIT.USAGE,
    hint:
      "Shorten the input (in a chat: fewer or shorter messages), or load the model with a larger context: --ctx-size N (`lode run`, `lode serve`), a `load` request's context_size.",
  },
  JOB_SPEC_INVALID: {
    exit: EXIT.USAGE,
    hint:
      "Fix the named field of the job spec (docs/jobs.md gives every kind's fields); paths in a spec are relative, without `..`.",
  },
  JOB_KIND_UNKNOWN: {
    exit: EXIT.USAGE,
    hint:
      "Use one of the job kinds: model-download, model-materialize-bundle, model-validate-bundle, model-warmup, model-inference, model-batch-inference, model-external-command, lock-add, sync.",
  },
  JOB_NOT_FOUND: {
    exit: EXIT.NOT_FOUND,
    hint: "See `lode job ls` for the jobs recorded in this store.",
  },
  JOB_FINISHED: {
    exit: EXIT.REFUSED,
    hint: "The job has already finished; `lode job show ID` gives its outcome.",
  },
  JOB_NOT_RESUMABLE: {
    exit: EXIT.REFUSED,
    hint:
      "Only an interrupted job resumes (its process died); run a new one with `lode job run KIND --spec …`.",
  },
  JOB_NOT_IMPLEMENTED: {
    exit: EXIT.REFUSED,
    hint:
      "This version of lode plans and records this kind of job but cannot run it yet; `lode job plan` shows its plan.",
  },
  EXTERNAL_COMMAND_NOT_FOUND: {
    exit: EXIT.NOT_FOUND,
    hint:
      "Check the command of the job spec: a program on PATH, or a relative path from the directory the job runs in.",
  },
  EXTERNAL_COMMAND_FAILED: {
    exit: EXIT.INFERENCE,
    hint:
      "The program exited with a failure; its stdout.txt and stderr.txt are in the job's directory (`lode job show ID`).",
  },
  JOB_CANCEL_TIMEOUT: {
    exit: EXIT.REFUSED,
    hint:
      "The job's process did not stop in time; wait longer (`lode job cancel ID --timeout 1m`) or kill it (`kill -9 PID`): the job then reads `interrupted`.",
  },
  JOB_RUNNING: {
    exit: EXIT.LOCKED,
    hint:
      "Another lode process runs this job; follow it with `lode job watch ID`, or stop it with `lode job cancel ID`.",
  },
  PLUGIN_MANIFEST_INVALID: {
    exit: EXIT.USAGE,
    hint:
      "Fix the named field of the plugin's lode-plugin.json (docs/plugins.md gives every field with an example).",
  },
  PLUGIN_FAILED: {
    exit: EXIT.INTERNAL,
    hint:
      "The plugin failed or its process died; its log (stderr) is in the error's details. Fix the plugin, or remove it.",
  },
  PLUGIN_PROTOCOL: {
    exit: EXIT.INTERNAL,
    hint:
      "The plugin broke lode's plugin protocol (docs/plugins.md): build it with plugins/sdk/mod.ts for this lode's protocol version.",
  },
  PLUGIN_TIMEOUT: {
    exit: EXIT.INTERNAL,
    hint: "The plugin did not answer in time and was stopped; check its log, or the service it depends on.",
  },
  PLUGIN_DENIED: {
    exit: EXIT.REFUSED,
    hint:
      "The plugin tried an access its manifest does not declare; declare it in lode-plugin.json's permissions (with a reason) if it is meant to.",
  },
  PLUGIN_NOT_FOUND: {
    exit: EXIT.NOT_FOUND,
    hint: "List the installed plugins with `lode plugin ls`; install one with `lode plugin add PATH`.",
  },
  PLUGIN_DISABLED: {
    exit: EXIT.REFUSED,
    hint:
      "The plugin failed too many times in a row and was disabled until lode restarts; see the earlier errors and its log.",
  },
  BATCH_INVALID: {
    exit: EXIT.USAGE,
    hint:
      'Fix the listed lines of the batch input (docs/running.md, "lode batch": one OpenAI Batch request per line, a unique custom_id, url /v1/chat/completions, /v1/completions or /v1/embeddings), then run it again; nothing was run.',
  },
  BATCH_CONTEXT_UNAVAILABLE: {
    exit: EXIT.REFUSED,
    hint:
      "The daemon cannot load the model with the context the batch gives each request (--ctx-size, a spec's context_size): lower it or the daemon's --parallel, leave it out to use the daemon's context (lode serve --ctx-size), or run the batch in its own process with --no-daemon.",
  },
  BATCH_CHANGED: {
    exit: EXIT.REFUSED,
    hint:
      "The output holds answers of another batch (another input file, model or parameters); pass --restart to discard them and start over, or write to another output file.",
  },
} as const satisfies Record<string, CatalogueEntry>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

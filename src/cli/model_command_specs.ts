/**
 * The command specs of running models: `run`, `batch`, `chat`, `embed` (in-process or
 * through a daemon) and the daemon's own `serve` and `status`. Part of the
 * program's spec table (program.ts), kept apart so each file holds one
 * family of commands.
 *
 * @example
 * ```ts
 * import { MODEL_COMMAND_SPECS } from "./model_command_specs.ts";
 * console.log(MODEL_COMMAND_SPECS.map((c) => c.name)); // ["run", "batch", "chat", "embed", "serve", "status"]
 * ```
 * @module
 */
import type { CommandSpec, OptionSpec } from "./args.ts";
import { LOAD_OPTIONS, SAMPLING_OPTIONS } from "./inference_flags.ts";
import { ADMIN_SOCKET_OPTION, DAEMON_OPTION, SERVE_OPTIONS, SOCKET_OPTION } from "./daemon_flags.ts";

/** `--sha256`, shared with `pull` and `import`. */
export const SHA256: OptionSpec = {
  name: "sha256",
  type: "string",
  value: "<hex>",
  description: "expected SHA-256; a mismatch quarantines the bytes and fails",
};

/** `--lockfile`, shared with `lock`, `sync` and `serve`. */
export const LOCKFILE: OptionSpec = {
  name: "lockfile",
  type: "string",
  value: "<path>",
  description: "the lockfile (default: ./lode.lock; $LODE_LOCKFILE)",
};

/**
 * `--sink`, shared with `pull`, `sync` and `job`: an event sink besides the config file's `sinks`
 * (docs/sinks.md). Each value is kept whole (a URL may hold commas).
 */
export const SINK: OptionSpec = {
  name: "sink",
  type: "list",
  split: false,
  value: "<webhook=URL|file=PATH>",
  description: "also send every event to a webhook (secret: $LODE_WEBHOOK_SECRET) or a log file; repeatable",
};

const MODEL_ARG = "a stored model name, hf:OWNER/REPO[:QUANT], an https URL (#sha256=HEX) or file:PATH";

/** How a model reference that needs pulling is named and pinned. */
const PULL_OPTIONS: OptionSpec[] = [
  { name: "name", type: "string", value: "<name>", description: "store name when pulling a URL" },
  SHA256,
];

const SYSTEM: OptionSpec = {
  name: "system",
  short: "s",
  type: "string",
  value: "<text>",
  description: "system message; without a chat template (or with --raw) it is put before the prompt",
};

const VERBOSE: OptionSpec = {
  name: "verbose",
  short: "v",
  type: "boolean",
  description: "print load time, prompt and generated tokens and their speed on stderr",
};

/** How run/chat/embed reach a running daemon. */
const DAEMON_CLIENT_OPTIONS: OptionSpec[] = [DAEMON_OPTION, SOCKET_OPTION];

/** The example model URL of help texts. */
export const STORIES = "https://example.com/models/stories260K.gguf";
/** Its sha256. */
export const STORIES_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

/** The specs of run, batch, chat, embed, serve and status, in the order help lists them. */
export const MODEL_COMMAND_SPECS: CommandSpec[] = [
  {
    name: "run",
    summary: "generate text with a model (pulled first when it is a URL not yet in the store)",
    args: [
      { name: "model", required: true, description: MODEL_ARG },
      { name: "prompt", description: "the prompt (default: read from stdin)" },
    ],
    options: [
      SYSTEM,
      {
        name: "raw",
        type: "boolean",
        description: "continue the prompt as plain text even when the model has a chat template",
      },
      ...SAMPLING_OPTIONS,
      ...LOAD_OPTIONS,
      ...PULL_OPTIONS,
      ...DAEMON_CLIENT_OPTIONS,
      VERBOSE,
    ],
    examples: [
      "lode run stories260K 'Once upon a time' --temperature 0",
      "echo 'Once upon a time' | lode run stories260K --max-tokens 40 --seed 7",
      "lode run hf:Qwen/Qwen3-0.6B-GGUF:Q8_0 'Why is the sky blue?' --system 'Answer in one sentence.'",
      "lode run qwen3 'List three colours' --json-schema colours.schema.json --temperature 0",
      "lode run stories260K 'Once upon a time' --json --verbose --threads 1 --stop '\\n'",
    ],
  },
  {
    name: "batch",
    summary:
      "answer a JSONL file of OpenAI Batch requests, resumably (output and errors as OpenAI writes them)",
    args: [{
      name: "input",
      required: true,
      description:
        'JSONL, one request a line: {"custom_id","method":"POST","url":"/v1/chat/completions"|"/v1/completions"|"/v1/embeddings","body"}',
    }],
    options: [
      {
        name: "model",
        short: "m",
        type: "string",
        value: "<name>",
        description: "the stored model (default: the bodies' model)",
      },
      {
        name: "output",
        short: "o",
        type: "string",
        value: "<file>",
        description: "where the answers go (JSONL; required)",
      },
      {
        name: "errors",
        type: "string",
        value: "<file>",
        description: "where failed requests go (default: OUTPUT with .errors before its extension)",
      },
      {
        name: "parallel",
        short: "p",
        type: "string",
        value: "<n>",
        description: "requests decoded at once, as sequences of one context (default 4, at most 64)",
      },
      { name: "restart", type: "boolean", description: "discard the answers OUTPUT holds and start over" },
      { name: "retry-errors", type: "boolean", description: "run again the requests the error file holds" },
      {
        name: "ctx-size",
        short: "c",
        type: "string",
        value: "<n>",
        description:
          "tokens of context each request gets, prompt and answer (default 2048; through a daemon, its own)",
      },
      ...LOAD_OPTIONS.filter((o) => o.name !== "ctx-size"),
      ...DAEMON_CLIENT_OPTIONS,
    ],
    examples: [
      "lode batch requests.jsonl --model stories260K -o answers.jsonl",
      "lode batch requests.jsonl -m stories260K -o answers.jsonl --parallel 8 --json",
      "lode batch requests.jsonl -m stories260K -o answers.jsonl --retry-errors",
    ],
    notes: [
      "The whole input is checked first (BATCH_INVALID lists the bad lines); nothing runs until it is good.",
      "Each answer is written as it finishes (completion order; match them by custom_id). Run the same",
      "command again after a crash or Ctrl-C: answered requests are skipped. Through the daemon of this",
      "store when one runs (a job there: `lode job watch ID`), else in this process. docs/running.md.",
    ],
  },
  {
    name: "chat",
    summary: "talk with a model: history kept, /reset clears it, /exit or Ctrl-D quits",
    args: [{ name: "model", required: true, description: MODEL_ARG }],
    options: [
      SYSTEM,
      ...SAMPLING_OPTIONS,
      ...LOAD_OPTIONS,
      ...PULL_OPTIONS,
      ...DAEMON_CLIENT_OPTIONS,
      VERBOSE,
    ],
    examples: [
      "lode chat hf:Qwen/Qwen3-0.6B-GGUF:Q8_0 --system 'You are terse.'",
      "printf 'Hi!\\nAnd again?\\n' | lode chat qwen3 --temperature 0 --json",
    ],
    notes: [
      "On a terminal: type a message and Enter; the whole history goes to the model each turn.",
      "Ctrl-C while an answer streams stops that answer (the part shown stays in the history; an answer",
      "stopped before its first word is dropped with its question). Ctrl-C at the prompt prints how to quit;",
      "a second Ctrl-C quits. Piped stdin: one message per line, each answer followed by a newline.",
      "A model without a chat template (stories260K) sees the history as `role: text` lines.",
    ],
  },
  {
    name: "embed",
    summary: "print embedding vectors of texts as JSON (one object per text, in order)",
    args: [
      { name: "model", required: true, description: MODEL_ARG },
      { name: "text", variadic: true, description: "texts to embed (default: one per line of stdin)" },
    ],
    options: [
      {
        name: "normalize",
        type: "boolean",
        negatable: true,
        description: "print raw vectors instead of scaling each to length 1",
      },
      ...LOAD_OPTIONS,
      ...PULL_OPTIONS,
      ...DAEMON_CLIENT_OPTIONS,
      { ...VERBOSE, description: "print load time, vector size and how long embedding took on stderr" },
    ],
    examples: [
      "lode embed stories260K 'a red ball' 'a blue ball'",
      "cat sentences.txt | lode embed nomic-embed --json | jq -c '.embedding | length'",
    ],
    notes: [
      'Default output: a JSON array of {"text": …, "embedding": [...]}. With --json: NDJSON, status events',
      'then one {"event": "embedding", "index": i, "text": …, "embedding": [...]} line per text.',
    ],
  },
  {
    name: "serve",
    summary: "run the daemon: models stay loaded, requests over a Unix socket (docs/protocol.md)",
    args: [],
    options: [
      SOCKET_OPTION,
      ADMIN_SOCKET_OPTION,
      ...SERVE_OPTIONS,
      {
        ...LOCKFILE,
        description:
          "pull the models it pins on first use (default: ./lode.lock when present; $LODE_LOCKFILE)",
      },
      ...LOAD_OPTIONS,
      SINK,
    ],
    examples: [
      "lode serve --model stories260K",
      "lode serve --lockfile ci/lode.lock   # a locked model missing from the store is pulled on first use",
      "lode serve --max-queue 16 --parallel 2 --keep-alive 10m --log ~/.local/state/lode/activity.ndjson",
      "lode serve --socket /tmp/lode-test.sock --threads 1 --grace 5s",
      "lode serve --http 8080 --allow-origin https://app.example.com   # that page may call the OpenAI API too",
      "LODE_WEBHOOK_SECRET=whsec_… lode serve --sink webhook=https://hooks.example.com/lode",
    ],
    notes: [
      "One daemon per socket: a second one exits 7 (DAEMON_RUNNING, naming the first one's pid).",
      "SIGTERM or Ctrl-C drains: new requests get DRAINING, those in flight have --grace to finish (a second",
      "signal stops them at once); the sockets are removed and lode exits 0. `lode status` shows its state;",
      "`lode run`/`chat`/`embed` of a stored model go through it when it serves their store (--no-daemon: not).",
      "A model missing from the store is pulled on first use when the lockfile pins it or the request names a",
      "reference (hf:…, https://…#sha256=…); progress goes to the admin stream. --offline: nothing is pulled.",
    ],
  },
  {
    name: "status",
    summary: "show the daemon's state (status, capabilities, queue, models); --watch follows it",
    args: [],
    options: [
      {
        name: "watch",
        short: "w",
        type: "boolean",
        description: "keep printing status events as they happen",
      },
      SOCKET_OPTION,
      ADMIN_SOCKET_OPTION,
    ],
    examples: ["lode status", "lode status --watch", "lode status --watch --json | jq -c ."],
    notes: ["Exits 3 (DAEMON_NOT_RUNNING) when no daemon is running on the socket."],
  },
];

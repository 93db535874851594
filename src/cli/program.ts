/**
 * What `lode` accepts: every command's arguments, options and examples as
 * data (help is generated from it), and where each command's implementation
 * lives. Implementations are imported only when their command runs, so
 * `lode --version` and `lode ls` load nothing they do not use.
 *
 * @example
 * ```ts
 * const parsed = parseArgv(Deno.args, PROGRAM);
 * const { run } = await COMMANDS[parsed.command!.name]!();
 * ```
 * @module
 */
import { VERSION } from "../version.ts";
import type { CommandSpec, OptionSpec, ParsedArgv, ProgramSpec } from "./args.ts";
import type { CommandContext } from "./context.ts";
import { LOAD_OPTIONS, SAMPLING_OPTIONS } from "./inference_flags.ts";
import { ADMIN_SOCKET_OPTION, DAEMON_OPTION, SERVE_OPTIONS, SOCKET_OPTION } from "./daemon_flags.ts";

/** A command implementation module. */
export interface CommandModule {
  run(ctx: CommandContext, parsed: ParsedArgv): Promise<void>;
}

const GLOBAL: OptionSpec[] = [
  {
    name: "store",
    type: "string",
    value: "<dir>",
    description: "store directory (default: $MODELS_HOME, else ~/.local/share/models)",
  },
  { name: "json", type: "boolean", description: "print NDJSON events on stdout instead of text" },
  { name: "quiet", short: "q", type: "boolean", description: "print only results and errors" },
  {
    name: "ca-cert",
    type: "list",
    value: "<file>",
    description: "also trust this CA certificate (PEM); repeatable",
  },
  {
    name: "allow-host",
    type: "list",
    value: "<host>",
    description: "also allow this host (a mirror, a CDN); repeatable",
  },
  {
    name: "allow-http",
    type: "list",
    value: "<host>",
    description: "allow plain http to this host (loopback mirrors, tests)",
  },
  { name: "offline", type: "boolean", description: "never open a network connection" },
  {
    name: "connections",
    type: "string",
    value: "<n>",
    description: "connections per file, or auto (default: measured, up to 16; $LODE_CONNECTIONS)",
  },
  {
    name: "wait",
    type: "boolean",
    negatable: true,
    description: "fail with LOCK_CONTENDED instead of waiting for another lode process",
  },
];

const SHA256: OptionSpec = {
  name: "sha256",
  type: "string",
  value: "<hex>",
  description: "expected SHA-256; a mismatch quarantines the bytes and fails",
};

const LOCKFILE: OptionSpec = {
  name: "lockfile",
  type: "string",
  value: "<path>",
  description: "the lockfile (default: ./lode.lock; $LODE_LOCKFILE)",
};

const MODEL_ARG = "a stored model name, hf:OWNER/REPO[:QUANT], an https URL (#sha256=HEX) or file:PATH";

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

const STORIES = "https://example.com/models/stories260K.gguf";
const STORIES_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

const SPECS: CommandSpec[] = [
  {
    name: "pull",
    summary: "download models into the store, verifying their SHA-256 while the bytes arrive",
    args: [{
      name: "ref",
      required: true,
      variadic: true,
      description:
        "hf:OWNER/REPO[:QUANT][@REVISION], hf:OWNER/REPO/PATH.gguf, hf.co/OWNER/REPO:QUANT, an https URL (#sha256=HEX) or a stored model's name ($HF_TOKEN, $HF_ENDPOINT)",
    }],
    options: [
      {
        name: "name",
        type: "string",
        value: "<name>",
        description: "store under this name (default: file name without .gguf)",
      },
      SHA256,
    ],
    examples: [
      "lode pull hf:Qwen/Qwen3-0.6B-GGUF:Q8_0",
      "lode pull hf.co/unsloth/Qwen3-0.6B-GGUF:q4_k_m@main --json",
      `lode pull ${STORIES}#sha256=${STORIES_SHA}`,
      `lode pull ${STORIES} --name tiny --json`,
    ],
  },
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
    ],
    examples: [
      "lode serve --model stories260K",
      "lode serve --lockfile ci/lode.lock   # a locked model missing from the store is pulled on first use",
      "lode serve --max-queue 16 --parallel 2 --keep-alive 10m --log ~/.local/state/lode/activity.ndjson",
      "lode serve --socket /tmp/lode-test.sock --threads 1 --grace 5s",
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
  {
    name: "inspect",
    summary:
      "show a GGUF model's architecture, parameters, quantization, context length and sizes (header only)",
    args: [{
      name: "model",
      required: true,
      description: "a stored model name, file:PATH, or the path of a GGUF file",
    }],
    options: [],
    examples: [
      "lode inspect stories260K",
      "lode inspect ./model-Q4_K_M.gguf --json",
      "lode inspect file:/models/qwen3-00001-of-00002.gguf",
    ],
  },
  {
    name: "ls",
    aliases: ["list"],
    summary: "list the models in the store (name, size, digest, format, source)",
    args: [],
    options: [],
    examples: ["lode ls", "lode ls --json"],
  },
  {
    name: "rm",
    aliases: ["remove"],
    summary: "remove models (their blobs too, when no other model uses them)",
    args: [{
      name: "name",
      required: true,
      variadic: true,
      description: "model names, as `lode ls` shows them",
    }],
    options: [],
    examples: ["lode rm stories260K"],
  },
  {
    name: "verify",
    summary: "re-hash models' bytes; a mismatch moves the blob to quarantine and exits 4",
    args: [{ name: "name", variadic: true, description: "model names" }],
    options: [{ name: "all", type: "boolean", description: "verify every model in the store" }],
    examples: ["lode verify --all", "lode verify stories260K --json"],
  },
  {
    name: "path",
    summary: "print the path of a model's verified bytes (for scripts)",
    args: [{ name: "name", required: true, description: "model name" }],
    options: [],
    examples: [`llama-cli -m "$(lode path stories260K)" -p 'Once upon a time'`],
  },
  {
    name: "import",
    summary: "copy a local model file or a bundle (from `lode export`) into the store, hashing it on the way",
    args: [{
      name: "path",
      required: true,
      description: "a GGUF file, or a bundle (recognised by its content; - reads a bundle from stdin)",
    }],
    options: [
      {
        name: "name",
        type: "string",
        value: "<name>",
        description: "model name (default: the bundle's, or the file name without .gguf)",
      },
      SHA256,
    ],
    examples: [
      "lode import ./stories260K.gguf --name stories260K",
      "lode import ./stories260K.lode",
      "ssh build-host lode export stories260K - | lode import - --name tiny",
    ],
  },
  {
    name: "export",
    summary: "write a model (manifest, every blob, their hashes) as a tar bundle for another machine",
    args: [
      { name: "name", required: true, description: "model name, as `lode ls` shows it" },
      { name: "file", required: true, description: "the bundle to write; - writes it to stdout" },
    ],
    options: [],
    examples: [
      "lode export stories260K stories260K.lode",
      "lode export stories260K - | ssh airgapped-host lode import -",
      "tar tvf stories260K.lode",
    ],
  },
  {
    name: "gc",
    summary: "remove blobs no model uses and stale partial downloads; report the bytes freed",
    args: [],
    options: [
      { name: "dry-run", short: "n", type: "boolean", description: "change nothing; list what would go" },
      {
        name: "older-than",
        type: "string",
        value: "<duration>",
        default: "24h",
        description: "partials (and quarantined files) last written longer ago than this go: 30m, 12h, 7d",
      },
      {
        name: "quarantine",
        type: "boolean",
        description: "also remove quarantined files older than --older-than",
      },
    ],
    examples: ["lode gc --dry-run", "lode gc --older-than 7d --quarantine --json"],
  },
  {
    name: "lock",
    summary: "pin models in lode.lock: lock add REF [--name N] | lock rm NAME | lock key (a cache key)",
    args: [
      {
        name: "action",
        required: true,
        description: "add (resolve and pin REF), rm (drop NAME), key (print the cache key)",
      },
      { name: "target", description: "REF for add (https URL#sha256=HEX, a stored name, …); NAME for rm" },
    ],
    options: [
      {
        name: "name",
        type: "string",
        value: "<name>",
        description: "lock add: model name (default: from the file name)",
      },
      LOCKFILE,
    ],
    examples: [
      `lode lock add ${STORIES}#sha256=${STORIES_SHA}`,
      `lode lock add ${STORIES} --name tiny`,
      "lode lock rm tiny",
      "lode lock key",
    ],
  },
  {
    name: "sync",
    summary: "install every model of lode.lock; re-hash blobs lode did not write (a cache restore)",
    args: [{ name: "name", variadic: true, description: "only these locked models (default: all)" }],
    options: [
      {
        name: "frozen",
        type: "boolean",
        description: "fail instead of changing the lockfile (an unpinned file); for CI",
      },
      LOCKFILE,
    ],
    examples: ["lode sync --frozen", "lode sync --offline --frozen --json", "lode sync stories260K"],
  },
];

/** The program: global options, commands, examples. */
export const PROGRAM: ProgramSpec = {
  name: "lode",
  summary: "pull, verify and run local LLM models from a content-addressed store",
  version: VERSION,
  global: GLOBAL,
  commands: SPECS,
  examples: [`lode run ${STORIES}#sha256=${STORIES_SHA} 'Once upon a time'`, "lode ls"],
};

/** Lazy loaders of the command implementations (literal specifiers: compile-safe). */
export const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  pull: () => import("./commands/pull.ts"),
  run: () => import("./commands/run.ts"),
  chat: () => import("./commands/chat.ts"),
  embed: () => import("./commands/embed.ts"),
  ls: () => import("./commands/ls.ts"),
  rm: () => import("./commands/rm.ts"),
  verify: () => import("./commands/verify.ts"),
  path: () => import("./commands/path.ts"),
  import: () => import("./commands/import.ts"),
  lock: () => import("./commands/lock.ts"),
  sync: () => import("./commands/sync.ts"),
  export: () => import("./commands/export.ts"),
  gc: () => import("./commands/gc.ts"),
  inspect: () => import("./commands/inspect.ts"),
  serve: () => import("./commands/serve.ts"),
  status: () => import("./commands/status.ts"),
};

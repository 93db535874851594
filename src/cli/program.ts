/**
 * What `lode` accepts: every command's arguments, options and examples as
 * data (help is generated from it), and where each command's implementation
 * lives. Implementations are imported only when their command runs, so
 * `lode --version` and `lode ls` load nothing they do not use.
 * @module
 */
import { VERSION } from "../version.ts";
import type { CommandSpec, OptionSpec, ParsedArgv, ProgramSpec } from "./args.ts";
import type { CommandContext } from "./context.ts";
import { SOCKET_OPTION } from "./daemon_flags.ts";
import { LOCKFILE, MODEL_COMMAND_SPECS, SHA256, SINK, STORIES, STORIES_SHA } from "./model_command_specs.ts";
import { TASK_COMMAND_SPECS } from "./task_command_specs.ts";

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
    name: "plugin",
    type: "list",
    split: false,
    value: "<dir>",
    description: "load the plugin in this folder for this command (a registry's SCHEME:REST); repeatable",
  },
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

/** `--mirror`, shared by `pull` and `lock add`. */
const MIRROR: OptionSpec = {
  name: "mirror",
  type: "list",
  split: false,
  value: "<url>",
  description:
    "another URL of the same bytes (needs #sha256=), tried in order when the first fails; repeatable",
};

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
      {
        ...SOCKET_OPTION,
        description:
          "pull in the daemon on this socket, as a job that survives this command (Ctrl-C cancels it)",
      },
      {
        name: "detach",
        type: "boolean",
        description:
          "start the pull as a job in the daemon of this store and return at once (lode job watch ID)",
      },
      MIRROR,
      SINK,
    ],
    examples: [
      "lode pull hf:Qwen/Qwen3-0.6B-GGUF:Q8_0",
      "lode pull hf:Qwen/Qwen3-0.6B-GGUF:Q8_0 --detach",
      "lode pull hf.co/unsloth/Qwen3-0.6B-GGUF:q4_k_m@main --json",
      "lode pull hf:Qwen/Qwen3-0.6B-GGUF:Q8_0 --sink file=pulls.ndjson",
      `lode pull ${STORIES}#sha256=${STORIES_SHA}`,
      `lode pull ${STORIES} --name tiny --json`,
      `lode pull ${STORIES}#sha256=${STORIES_SHA} --mirror https://mirror.example/stories260K.gguf`,
      "lode pull oci://registry.example/models/qwen3:0.6b-q8 --json",
    ],
  },
  ...MODEL_COMMAND_SPECS,
  {
    name: "inspect",
    summary:
      "show a GGUF model's architecture, parameters, quantization, context length and sizes (header only), " +
      "and a stored model's other files (projector, license, chat template)",
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
      {
        name: "format",
        type: "string",
        value: "<format>",
        description: "what the file is (default: gguf, a model: checked); another format is stored unread",
      },
    ],
    examples: [
      "lode import ./stories260K.gguf --name stories260K",
      "lode import ./stories260K.lode",
      "ssh build-host lode export stories260K - | lode import - --name tiny",
      "lode import ./tokenizer.json --name qwen-tokenizer --format json",
    ],
    notes: [
      "A file is stored as a model only when lode's GGUF reader accepts its header (magic, version, counts",
      "within limits, tensor data inside the file): a text file or a truncated download fails with GGUF_INVALID",
      "(exit 4), its bytes moved to locks/quarantine/ and nothing stored. A file that is not a model (a",
      "tokenizer, a config) needs --format NAME: it is stored as it is, and `lode run` cannot load it.",
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
    name: "push",
    summary: "upload a stored model to an OCI registry (ModelPack or Docker Model Runner's format) as a job",
    args: [
      { name: "name", required: true, description: "model name, as `lode ls` shows it" },
      {
        name: "target",
        required: true,
        description:
          "oci://HOST[:PORT]/REPO:TAG ($LODE_OCI_USERNAME/$LODE_OCI_PASSWORD or `docker login HOST`)",
      },
    ],
    options: [
      {
        name: "format",
        type: "string",
        value: "<format>",
        default: "modelpack",
        description: "the artifact: modelpack (CNCF ModelPack) or docker (Docker Model Runner's)",
      },
    ],
    examples: [
      "lode push stories260K oci://registry.example/models/stories:260k",
      "lode push stories260K oci://registry.example/ai/stories:260k --format docker",
      "lode --ca-cert ca.pem push stories260K oci://127.0.0.1:5443/m/stories:v1 --json",
      "lode job ls   # a push is a model-push job; run the same push again to resume a killed one",
    ],
  },
  {
    name: "gc",
    summary:
      "remove blobs no model uses, stale partials and push records (old batches and jobs when asked); report the bytes freed",
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
      {
        name: "uploads-older-than",
        type: "string",
        value: "<duration>",
        default: "7d",
        description: "records of `lode push` uploads never finished (locks/uploads/) older than this go",
      },
      {
        name: "batches-older-than",
        type: "string",
        value: "<duration>",
        description: "Batch API files and ended batches (openai/) created longer ago than this go",
      },
      {
        name: "jobs-older-than",
        type: "string",
        value: "<duration>",
        description:
          "records of jobs succeeded, failed or cancelled longer ago than this go (jobs/; interrupted ones stay)",
      },
    ],
    examples: [
      "lode gc --dry-run",
      "lode gc --older-than 7d --quarantine --json",
      "lode gc --uploads-older-than 1d",
      "lode gc --batches-older-than 7d",
      "lode gc --jobs-older-than 30d --dry-run",
    ],
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
      { ...MIRROR, description: `lock add: ${MIRROR.description}` },
      LOCKFILE,
    ],
    examples: [
      `lode lock add ${STORIES}#sha256=${STORIES_SHA}`,
      `lode lock add ${STORIES}#sha256=${STORIES_SHA} --mirror https://mirror.example/stories260K.gguf`,
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
      SINK,
    ],
    examples: ["lode sync --frozen", "lode sync --offline --frozen --json", "lode sync stories260K"],
  },
  ...TASK_COMMAND_SPECS,
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

/** The commands whose events go to the sinks (the config file's `sinks`, `--sink`); `serve` attaches them to its daemon's stream. */
export const SINK_COMMANDS: ReadonlySet<string> = new Set(["pull", "sync", "job", "batch"]);

/** Lazy loaders of the command implementations (literal specifiers: compile-safe). */
export const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  pull: () => import("./commands/pull.ts"),
  run: () => import("./commands/run.ts"),
  batch: () => import("./commands/batch.ts"),
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
  push: () => import("./commands/push.ts"),
  gc: () => import("./commands/gc.ts"),
  inspect: () => import("./commands/inspect.ts"),
  serve: () => import("./commands/serve.ts"),
  status: () => import("./commands/status.ts"),
  job: () => import("./commands/job.ts"),
  plugin: () => import("./commands/plugin.ts"),
};

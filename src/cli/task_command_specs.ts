/**
 * The command specs of tasks and extensions: `job` (plans, runs and records of jobs) and `plugin` (installed
 * plugins, their conformance and scaffolding). Part of the program's spec table (program.ts), kept apart so
 * each file holds one family of commands.
 *
 * @example
 * ```ts
 * import { TASK_COMMAND_SPECS } from "./task_command_specs.ts";
 * console.log(TASK_COMMAND_SPECS.map((c) => c.name)); // ["job", "plugin"]
 * ```
 * @module
 */
import type { CommandSpec } from "./args.ts";
import { SOCKET_OPTION } from "./daemon_flags.ts";
import { SINK } from "./model_command_specs.ts";

/** The specs of job and plugin, in the order help lists them. */
export const TASK_COMMAND_SPECS: CommandSpec[] = [
  {
    name: "job",
    summary:
      "plan, run and inspect jobs: job plan KIND | run KIND | ls | show ID | watch ID | cancel ID | resume ID",
    args: [
      {
        name: "action",
        required: true,
        description:
          "plan (print a kind's plan), run (record and run a job here), ls, show, watch (follow its events), cancel (SIGTERM to the job's process), resume (an interrupted download, lock-add, sync or batch)",
      },
      {
        name: "target",
        description:
          "KIND for plan and run (model-download, model-inference, model-warmup, model-external-command, sync, …); ID otherwise",
      },
    ],
    options: [{
      name: "spec",
      type: "string",
      value: "<json|@file>",
      description:
        "plan, run: the job spec, as JSON or @FILE holding it (docs/jobs.md gives each kind's fields)",
    }, {
      name: "timeout",
      type: "string",
      value: "<duration>",
      description:
        "cancel: how long the job's process has to record `cancelled` after SIGTERM (default 10s): 30s, 2m",
    }, {
      ...SOCKET_OPTION,
      description:
        "run, resume: the daemon of model-warmup and model-inference jobs (default: the one serving this store)",
    }, SINK],
    examples: [
      `lode job plan model-download --spec '{"ref":"hf:Qwen/Qwen3-0.6B-GGUF:Q8_0"}' --json`,
      `lode job run model-external-command --spec '{"model":"stories260K","command":"sha256sum","args":["{model}"]}'`,
      `lode job run model-materialize-bundle --spec '{"model":"stories260K","target":"out"}'`,
      `lode job run model-inference --spec '{"model":"stories260K","prompt":"Once upon a time","max_tokens":20}'`,
      `lode job run sync --spec '{"frozen":true}'`,
      "lode job ls --json",
      "lode job show 0mxcsnhnv-d4351c",
      "lode job watch 0mxcsnhnv-d4351c --json",
      "lode job cancel 0mxcsnhnv-d4351c --timeout 30s",
      "lode job resume 0mxcsnhnv-d4351c",
    ],
    notes: [
      "Jobs are recorded under $MODELS_HOME/jobs/<id>/ (record.json, events.ndjson, a job's own files);",
      "a job whose process died shows `interrupted`. Paths in a spec are relative to the directory the job",
      "runs in, without `..`.",
    ],
  },
  {
    name: "plugin",
    summary: "manage plugins: plugin ls | add PATH | rm NAME | test DIR | new registry|sink|backend DIR",
    args: [
      {
        name: "action",
        required: true,
        description:
          "ls (installed plugins), add (install the plugin in PATH), rm (uninstall NAME), test (run the conformance suites of DIR's hooks), new (make a plugin that passes them)",
      },
      { name: "target", description: "PATH for add, NAME for rm, DIR for test; the kind for new" },
      { name: "dir", description: "new: the folder to make (its name is the plugin's)" },
    ],
    options: [
      {
        name: "yes",
        short: "y",
        type: "boolean",
        description:
          "add: accept the run and ffi permissions the manifest asks for (shown with their reasons)",
      },
      {
        name: "ref",
        type: "list",
        split: false,
        value: "<ref>",
        description: "test: a reference the registry must resolve to a pinned plan; repeatable",
      },
      {
        name: "model",
        type: "string",
        value: "<file>",
        description: "test: a model file a backend must load",
      },
    ],
    examples: [
      "lode plugin ls --json",
      "lode plugin add plugins/examples/mirror_registry",
      "lode pull mirror:stories260K",
      "lode pull mirror:stories260K --plugin plugins/examples/mirror_registry",
      "lode plugin test plugins/examples/mirror_registry --ref mirror:stories260K",
      "lode plugin new registry ./my_registry && lode plugin test ./my_registry",
      "lode plugin rm mirror_registry",
    ],
    notes: [
      "Installed plugins live in $XDG_CONFIG_HOME/lode/plugins/<name>/ (a link to the plugin's folder).",
      "Each runs in its own process, sandboxed by its lode-plugin.json (docs/plugins.md).",
    ],
  },
];

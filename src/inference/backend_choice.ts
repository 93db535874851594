/**
 * Which {@link Backend} runs a model file: the built-in one (llama.cpp) for a GGUF file, else the first
 * backend plugin, in the order given, whose probe says it can run the file. The composition root (the
 * CLI's model_session.ts) calls it with the plugin folders it was given.
 *
 * @example
 * ```ts
 * import { chooseBackend } from "./backend_choice.ts";
 * import { createLlamaCppBackend } from "./llama_cpp_backend.ts";
 * import { openPluginBackend } from "./plugin_backend.ts";
 * const backend = await chooseBackend("models/m.remote.json", {
 *   builtIn: () => Promise.resolve(createLlamaCppBackend()),
 *   plugins: [() => openPluginBackend("plugins/examples/openai_backend")],
 * });
 * await backend.close();
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { Backend } from "./backend.ts";
import { probeGguf } from "./gguf_probe.ts";

/** The backends {@link chooseBackend} picks from, each opened only when it is tried. */
export interface BackendChoices {
  /** The built-in backend, for GGUF files. */
  builtIn: () => Promise<Backend>;
  /**
   * Backend plugins, tried in order for a file that is not GGUF; or a function giving them, called only
   * for such a file (finding the plugins costs a look at their folders).
   */
  plugins?: readonly (() => Promise<Backend>)[] | (() => Promise<readonly (() => Promise<Backend>)[]>);
}

/**
 * The backend for the file at `path`: the built-in one when the file is GGUF, when it is missing, or when
 * no plugin is given (its `load` then says why it cannot run it); else the first plugin whose probe is
 * ok (the others are closed). When none claims it: `MODEL_LOAD_FAILED` with every backend's reason.
 * `file.fileName` is the file's own name when `path` does not end in it (a stored model's blob).
 */
export async function chooseBackend(
  path: string,
  choices: BackendChoices,
  file: { fileName?: string } = {},
): Promise<Backend> {
  const given = choices.plugins ?? [];
  if (Array.isArray(given) && given.length === 0) return await choices.builtIn();
  const gguf = await probeGguf(path);
  if (gguf.ok || !(await exists(path))) return await choices.builtIn();
  const plugins = typeof given === "function" ? await given() : given;
  if (plugins.length === 0) return await choices.builtIn();
  const reasons: Record<string, string> = { gguf: gguf.reason };
  for (const open of plugins) {
    const backend = await open();
    const probe = await backend.probe(path, file);
    if (probe.ok) return backend;
    reasons[backend.name] = probe.reason;
    await backend.close();
  }
  throw new LodeError(
    "MODEL_LOAD_FAILED",
    `no backend can run ${path}: ${
      Object.entries(reasons).map(([name, why]) => `${name}: ${why}`).join("; ")
    }`,
    { details: { path, reasons }, hint: "Check the file, or give the backend plugin that runs it." },
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

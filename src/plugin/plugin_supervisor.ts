/**
 * An out-of-process plugin kept running: started on its first call, started again after a fault with a
 * growing delay (backoff), and disabled after too many faults in a row (`PLUGIN_DISABLED`, until lode
 * restarts). A fault is what kills the process (plugin_process.ts: it died, hung, broke the protocol);
 * a call the plugin answers with an error is not one. A successful call ends the run of faults.
 *
 * @example
 * ```ts
 * import { SupervisedPlugin } from "./plugin_supervisor.ts";
 * import { readManifest } from "./manifest.ts";
 * async function resolveOnce(dir: string) {
 *   const plugin = new SupervisedPlugin(await readManifest(dir));
 *   try {
 *     return await plugin.call("registry.resolve", { reference: "mirror:tiny", scheme: "mirror", rest: "tiny" });
 *   } finally {
 *     await plugin.shutdown();
 *   }
 * }
 * ```
 * @module
 */
import type { LodeError } from "../errors.ts";
import type { PluginManifest } from "./manifest.ts";
import { pluginError, tagged } from "./plugin_error.ts";
import { type CallOptions, PluginProcess, type ProcessOptions } from "./plugin_process.ts";
import { denoExecutable, type SandboxCommand, sandboxCommand, withRead } from "./sandbox.ts";

/** How a {@link SupervisedPlugin} starts its process and deals with faults. */
export interface SupervisorOptions extends Omit<ProcessOptions, "name" | "command"> {
  /** The command to start (default: the manifest's {@link sandboxCommand} with this process's env). */
  command?: SandboxCommand;
  /** Delays before the 1st, 2nd, … restart after a fault (the last repeats); default 250, 1000, 4000 ms. */
  backoffMs?: readonly number[];
  /** Faults in a row that disable the plugin (default 3). */
  maxFailures?: number;
  /** Waits (injected for tests; default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
}

/** A plugin process started on demand and restarted after faults. */
export class SupervisedPlugin {
  readonly manifest: PluginManifest;
  /** Faults in a row. */
  failures = 0;
  /** The fault that disabled the plugin, once it is disabled. */
  disabledBy: LodeError | null = null;
  /** How many processes were started. */
  starts = 0;

  readonly #options: SupervisorOptions;
  #command: SandboxCommand;
  #process: PluginProcess | null = null;
  #starting: Promise<PluginProcess> | null = null;

  constructor(manifest: PluginManifest, options: SupervisorOptions = {}) {
    this.manifest = manifest;
    this.#options = options;
    this.#command = options.command ?? sandboxCommand(manifest, {
      deno: denoExecutable(Deno.env.toObject(), Deno.execPath()),
      env: Deno.env.toObject(),
    });
  }

  get name(): string {
    return this.manifest.name;
  }

  /**
   * Lets the processes started from now on read `paths` too, besides what its manifest declares
   * ({@link withRead}): `lode serve` grants a backend plugin its store's model files. A process already
   * running keeps its permissions.
   */
  allowRead(paths: readonly string[]): void {
    this.#command = withRead(this.#command, paths);
  }

  /** The running process, if any (its `log` is the plugin's stderr). */
  get process(): PluginProcess | null {
    return this.#process;
  }

  /** Calls `hook` on the plugin, starting it when it does not run. */
  async call(hook: string, params: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.disabledBy !== null) throw this.#disabled(hook);
    const process = await this.#ready(hook);
    try {
      const value = await process.call(hook, params, options);
      this.failures = 0;
      return value;
    } catch (e) {
      if (process.failure !== null) this.#fault(process.failure);
      throw tagged(e, this.name, hook);
    }
  }

  /**
   * Starts the process now when it does not run (both hellos said), so that the next call need not wait
   * for them; a start that fails is a fault as in {@link call}, and rejects with its error, tagged.
   */
  async start(): Promise<void> {
    await this.#ready("start");
  }

  /** Stops the running process (shutdown, exit, kill after the grace period). */
  async shutdown(): Promise<void> {
    const process = this.#process ?? await this.#starting?.catch(() => null) ?? null;
    this.#process = null;
    await process?.shutdown();
  }

  #disabled(hook: string): LodeError {
    const cause = this.disabledBy!;
    return pluginError(
      "PLUGIN_DISABLED",
      this.name,
      hook,
      `was disabled after ${this.failures} faults in a row; the last: ${cause.message}`,
      { failures: this.failures, last_code: cause.code },
      cause,
    );
  }

  #fault(error: LodeError): void {
    if (this.#process?.failure === error) this.#process = null;
    this.failures++;
    if (this.failures >= (this.#options.maxFailures ?? 3)) this.disabledBy = error;
  }

  async #ready(hook: string): Promise<PluginProcess> {
    if (this.#process?.alive) return this.#process;
    // A process that died between calls is a fault too.
    if (this.#process?.failure) this.#fault(this.#process.failure);
    this.#process = null;
    if (this.disabledBy !== null) throw this.#disabled(hook);
    this.#starting ??= this.#start().finally(() => this.#starting = null);
    try {
      return await this.#starting;
    } catch (e) {
      if (this.disabledBy !== null) throw this.#disabled(hook);
      throw tagged(e, this.name, hook);
    }
  }

  async #start(): Promise<PluginProcess> {
    if (this.failures > 0) {
      const backoff = this.#options.backoffMs ?? [250, 1000, 4000];
      const delay = backoff[Math.min(this.failures - 1, backoff.length - 1)] ?? 0;
      await (this.#options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(delay);
    }
    this.starts++;
    try {
      this.#process = await PluginProcess.start({
        ...this.#options,
        name: this.name,
        command: this.#command,
      });
      return this.#process;
    } catch (e) {
      this.#fault(tagged(e, this.name, "start"));
      throw e;
    }
  }
}

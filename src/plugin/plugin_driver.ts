/**
 * The one driver of plugins: built-ins (in-process {@link Plugin}s) and out-of-process plugins
 * (remote_plugin.ts) register through the same {@link PluginDriver.register}, and every hook runs by its
 * kind (api.ts's {@link HOOKS}): `first` (the first plugin that claims or answers), `sequential` (each in
 * order, awaited), `parallel` (all at once, isolated). Every failure is tagged with the plugin and hook.
 *
 * @example
 * ```ts
 * import { PluginDriver } from "./plugin_driver.ts";
 * const driver = new PluginDriver();
 * driver.register({
 *   name: "table",
 *   registry: {
 *     schemes: ["table"],
 *     resolve: (ref) =>
 *       Promise.resolve({
 *         name: ref.rest,
 *         reference: ref.reference,
 *         source: { registry: "table", repo: "", revision: "" },
 *         files: [{ role: "model", filename: "m.gguf", urls: ["https://t.test/m.gguf"], sha256: "0".repeat(64), sizeBytes: 1 }],
 *       }),
 *   },
 * });
 * const plan = await driver.resolve("table:tiny"); // plan.name === "tiny"
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { Envelope } from "../events/envelope.ts";
import type {
  CallContext,
  Credentials,
  HookName,
  LoadDescriptor,
  PlanDescriptor,
  Plugin,
  PluginSession,
  ProbeDescriptor,
  RegistryRef,
} from "./api.ts";
import { tagged } from "./plugin_error.ts";
import type { SupervisedPlugin } from "./plugin_supervisor.ts";

/** Options of a {@link PluginDriver}. */
export interface DriverOptions {
  /** Told of every failure of a `parallel` hook (a sink's), which never reaches the caller. */
  onFailure?: (error: LodeError) => void;
}

/** A reference split at its scheme: `mirror:tiny` → scheme `mirror`, rest `tiny`; null without one. */
export function splitReference(reference: string): RegistryRef | null {
  const m = /^([a-z][a-z0-9+.-]*):(.*)$/.exec(reference);
  return m ? { reference, scheme: m[1]!, rest: m[2]! } : null;
}

const idle: CallContext = { signal: new AbortController().signal, progress: () => {} };

/** Registers plugins and runs their hooks by kind. */
export class PluginDriver {
  readonly #plugins: Plugin[] = [];
  readonly #remote: SupervisedPlugin[] = [];
  readonly #options: DriverOptions;

  constructor(options: DriverOptions = {}) {
    this.#options = options;
  }

  /** The registered plugins, in registration order. */
  get plugins(): readonly Plugin[] {
    return this.#plugins;
  }

  /**
   * Adds a plugin after those registered before. Two plugins of one name, or two registries claiming
   * one scheme, are a `PLUGIN_MANIFEST_INVALID`.
   */
  register(plugin: Plugin): void {
    if (this.#plugins.some((p) => p.name === plugin.name)) {
      throw new LodeError("PLUGIN_MANIFEST_INVALID", `two plugins are named ${plugin.name}`, {
        details: { plugin: plugin.name, field: "name" },
      });
    }
    for (const scheme of plugin.registry?.schemes ?? []) {
      const owner = this.registryFor(scheme);
      if (owner !== undefined) {
        throw new LodeError(
          "PLUGIN_MANIFEST_INVALID",
          `plugins ${owner.name} and ${plugin.name} both claim the scheme ${scheme}:`,
          { details: { plugin: plugin.name, field: "schemes", scheme, owner: owner.name } },
        );
      }
    }
    this.#plugins.push(plugin);
  }

  /**
   * Registers an out-of-process plugin: `plugin` its hooks, calls on its process (remote_plugin.ts's
   * `remotePlugin(supervised)`), `supervised` that process, which {@link close} stops.
   */
  registerRemote(supervised: SupervisedPlugin, plugin: Plugin): void {
    this.register(plugin);
    this.#remote.push(supervised);
  }

  /** The supervised process of the out-of-process plugin `name` (undefined for a built-in or none). */
  supervised(name: string): SupervisedPlugin | undefined {
    return this.#remote.find((p) => p.name === name);
  }

  /** Starts the process of the out-of-process registry claiming `scheme`, if any, ahead of its first call. */
  warm(scheme: string): void {
    // A failed start is a fault the supervisor keeps; the call that follows reports it.
    this.#remote.find((p) => p.manifest.schemes?.includes(scheme))?.start().catch(() => {});
  }

  /** The registry plugin claiming `scheme`. */
  registryFor(scheme: string): Plugin | undefined {
    return this.#plugins.find((p) => p.registry?.schemes.includes(scheme));
  }

  /**
   * `first`: runs `run` on each plugin in order until one returns a value other than null, and returns
   * it with its plugin; null when none did. A plugin's failure is thrown, tagged.
   */
  async first<T>(
    hook: HookName,
    run: (plugin: Plugin) => Promise<T | null> | null,
  ): Promise<{ plugin: Plugin; value: T } | null> {
    for (const plugin of this.#plugins) {
      try {
        const value = await run(plugin);
        if (value !== null) return { plugin, value };
      } catch (e) {
        throw tagged(e, plugin.name, hook);
      }
    }
    return null;
  }

  /** `sequential`: runs `run` on each plugin in order, each awaited; returns the failures, tagged. */
  async sequential(hook: HookName, run: (plugin: Plugin) => Promise<void> | null): Promise<LodeError[]> {
    const failures: LodeError[] = [];
    for (const plugin of this.#plugins) {
      try {
        await run(plugin);
      } catch (e) {
        failures.push(tagged(e, plugin.name, hook));
      }
    }
    return failures;
  }

  /** `parallel`: runs `run` on every plugin at once; returns the failures, tagged. */
  async parallel(hook: HookName, run: (plugin: Plugin) => Promise<void> | void | null): Promise<LodeError[]> {
    const settled = await Promise.allSettled(this.#plugins.map(async (plugin) => {
      try {
        await run(plugin);
      } catch (e) {
        throw tagged(e, plugin.name, hook);
      }
    }));
    return settled.flatMap((s) => s.status === "rejected" ? [s.reason as LodeError] : []);
  }

  /** `registry.resolve`: the plan of `reference` from the registry claiming its scheme. */
  async resolve(reference: string, context: CallContext = idle): Promise<PlanDescriptor> {
    const ref = splitReference(reference);
    const registry = ref && this.registryFor(ref.scheme);
    if (!ref || !registry?.registry) {
      const schemes = this.#plugins.flatMap((p) => p.registry?.schemes ?? []);
      throw new LodeError("INVALID_REF", `no registry claims the reference ${JSON.stringify(reference)}`, {
        details: { reference, schemes },
      });
    }
    const hooks = registry.registry;
    const found = await this.first(
      "registry.resolve",
      (p) => p === registry ? hooks.resolve(ref, context) : null,
    );
    return found!.value;
  }

  /** `registry.credentials`: the first registry's credentials for `host`, or null. */
  async credentials(host: string, context: CallContext = idle): Promise<Credentials | null> {
    const found = await this.first(
      "registry.credentials",
      (p) => p.registry?.credentials?.(host, context) ?? null,
    );
    return found?.value ?? null;
  }

  /**
   * `sink.event`: hands `envelope` to every sink at once and returns without waiting for them; a sink's
   * failure goes to `onFailure`, never to the caller.
   */
  publish(envelope: Envelope): void {
    for (const plugin of this.#plugins) {
      const sink = plugin.sink;
      if (sink === undefined) continue;
      // Each sink on its own: a hung one holds back neither the others nor their failures' reports.
      new Promise<void>((resolve) => resolve(sink.event(envelope))).catch((e) =>
        this.#options.onFailure?.(tagged(e, plugin.name, "sink.event"))
      );
    }
  }

  /** `backend.probe`: the first backend that can run the file at `path`, with its probe. */
  async probe(
    path: string,
    context: CallContext = idle,
  ): Promise<{ plugin: Plugin; probe: ProbeDescriptor } | null> {
    const found = await this.first("backend.probe", async (p) => {
      if (!p.backend) return null;
      const probe = await p.backend.probe(path, context);
      return probe.ok ? probe : null;
    });
    return found && { plugin: found.plugin, probe: found.value };
  }

  /** `backend.load`: the file at `path` loaded by the first backend whose probe says it can run it. */
  async load(
    path: string,
    options: LoadDescriptor = {},
    context: CallContext = idle,
  ): Promise<PluginSession> {
    const found = await this.probe(path, context);
    if (found === null) {
      throw new LodeError("MODEL_LOAD_FAILED", `no backend can run ${path}`, { details: { path } });
    }
    const backend = found.plugin.backend!;
    const loaded = await this.first(
      "backend.load",
      (p) => p === found.plugin ? backend.load(path, options, context) : null,
    );
    return loaded!.value;
  }

  /** `sink.close` on every sink in order, then every out-of-process plugin stopped; the failures, tagged. */
  async close(): Promise<LodeError[]> {
    const failures = await this.sequential("sink.close", (p) => p.sink ? p.sink.close() : null);
    await Promise.all(this.#remote.map((p) => p.shutdown()));
    return failures;
  }
}

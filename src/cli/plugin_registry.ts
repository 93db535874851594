/**
 * The bridge between the plugin driver and the registry layer, made at the composition root (the two
 * layers do not import each other): a registry plugin run by the {@link PluginDriver} as a registry
 * layer {@link Registry} ({@link pluginRegistry}), and the built-in registries as in-process plugins of
 * the same driver ({@link builtinPlugins}), each found by one lookup of a scheme ({@link registryOf}: a
 * built-in's own registry, a plugin's bridge), and the credentials a plan's registry gives for a host
 * ({@link registryCredentials}). A plugin gives descriptors only: its plan becomes a {@link ModelPlan}
 * that the core downloads and verifies like any other, with the plugin's `registry.credentials` headers
 * applied to the hosts it names only.
 *
 * @example
 * ```ts
 * import { PluginDriver } from "../plugin/plugin_driver.ts";
 * import { pluginRegistry } from "./plugin_registry.ts";
 * declare const driver: PluginDriver; // with a registry plugin claiming mirror:
 * const registry = pluginRegistry(driver, driver.registryFor("mirror")!); // registry.schemes: ["mirror"]
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import type { CallContext, PlanDescriptor, Plugin } from "../plugin/api.ts";
import { PluginDriver } from "../plugin/plugin_driver.ts";
import { hubCredentials, withHostCredentials } from "../registry/credentials.ts";
import { BUILTIN_FORM_SCHEMES, parseRef } from "../registry/reference.ts";
import type { ModelPlan, Registry, RegistryContext, RegistrySettings } from "../registry/registry.ts";
import { BUILTIN_REGISTRIES } from "../registry/resolve_model.ts";

/** A plugin's plan as the registry layer's {@link ModelPlan}: a file's first URL, then its mirrors. */
export function planFromDescriptor(d: PlanDescriptor): ModelPlan {
  return {
    name: d.name,
    reference: d.reference,
    source: { ...d.source },
    files: d.files.map((f) => ({
      role: f.role,
      filename: f.filename,
      url: f.urls[0]!,
      ...(f.urls.length > 1 ? { mirrors: f.urls.slice(1) } : {}),
      sha256: f.sha256,
      sizeBytes: f.sizeBytes,
      ...(f.headers ? { headers: f.headers } : {}),
      ...(f.optional ? { optional: true } : {}),
    })),
    ...(d.license !== undefined ? { license: d.license } : {}),
    ...(d.format !== undefined ? { format: d.format } : {}),
    ...(d.allowHosts ? { allowHosts: d.allowHosts } : {}),
    ...(d.accessHint ? { accessHint: d.accessHint } : {}),
  };
}

/** A built-in's plan as a {@link PlanDescriptor}: only a pinned plan is one (every file has its SHA-256). */
export function descriptorFromPlan(plan: ModelPlan): PlanDescriptor {
  return {
    name: plan.name,
    reference: plan.reference,
    source: { ...plan.source },
    files: plan.files.map((f) => {
      if (f.sha256 === undefined) {
        throw new LodeError("INVALID_REF", `${plan.reference} is not pinned: ${f.filename} has no SHA-256`, {
          details: { ref: plan.reference, filename: f.filename },
          hint: "Pin a URL with #sha256=HEX.",
        });
      }
      return {
        role: f.role,
        filename: f.filename,
        urls: [f.url, ...(f.mirrors ?? [])],
        sha256: f.sha256,
        sizeBytes: f.sizeBytes ?? 0,
        ...(f.headers ? { headers: f.headers } : {}),
        ...(f.optional ? { optional: true } : {}),
      };
    }),
    ...(plan.license !== undefined ? { license: plan.license } : {}),
    ...(plan.format !== undefined ? { format: plan.format } : {}),
    ...(plan.allowHosts ? { allowHosts: plan.allowHosts } : {}),
    ...(plan.accessHint ? { accessHint: plan.accessHint } : {}),
  };
}

/**
 * The registry plugin `plugin` of `driver` as a {@link Registry}: `SCHEME:REST` of its schemes resolved
 * through the driver's `registry.resolve`, then its `registry.credentials` asked once per host of the
 * plan's URLs (mirrors too), each answer applied to the URLs on that host only.
 */
export function pluginRegistry(driver: PluginDriver, plugin: Plugin): Registry {
  const schemes = plugin.registry?.schemes ?? [];
  // `registry.resolve` calls asked by `prepare`, by reference: the plugin works while lode builds its context.
  const asked = new Map<string, { answer: Promise<PlanDescriptor>; stop: AbortController }>();
  return {
    id: plugin.name,
    schemes,
    claims: (ref) => ref.kind === "plugin" && schemes.includes(ref.scheme),
    prepare: (ref) => {
      if (ref.kind !== "plugin" || asked.has(ref.reference)) return;
      const stop = new AbortController();
      const answer = driver.resolve(ref.reference, { signal: stop.signal, progress: () => {} });
      answer.catch(() => {}); // reported by the resolve that takes it
      asked.set(ref.reference, { answer, stop });
    },
    async resolve(ref, ctx, options = {}) {
      if (ref.kind !== "plugin") {
        throw new LodeError("INTERNAL", `${plugin.name} given a ${ref.kind} reference`);
      }
      const context: CallContext = { signal: ctx.signal ?? new AbortController().signal, progress: () => {} };
      const early = asked.get(ref.reference);
      asked.delete(ref.reference);
      let descriptor: PlanDescriptor;
      if (early === undefined) descriptor = await driver.resolve(ref.reference, context);
      else {
        const cancel = () => early.stop.abort(context.signal.reason);
        if (context.signal.aborted) cancel();
        context.signal.addEventListener("abort", cancel, { once: true });
        try {
          descriptor = await early.answer;
        } finally {
          context.signal.removeEventListener("abort", cancel);
        }
      }
      const plan = planFromDescriptor(descriptor);
      const primary = plan.files[0]!;
      if (options.sha256 !== undefined && (plan.files.length > 1 || primary.sha256 !== options.sha256)) {
        throw new LodeError(
          "USAGE",
          `--sha256 disagrees with the plan ${plugin.name} gave for ${ref.reference}`,
          {
            details: { ref: ref.reference, expected: options.sha256, planned: primary.sha256 },
          },
        );
      }
      const byHost = new Map<string, Record<string, string>>();
      const urls = plan.files.flatMap((f) => [f.url, ...(f.mirrors ?? [])]);
      for (const host of new Set(urls.map((u) => new URL(u).host))) {
        const found = await driver.first(
          "registry.credentials",
          (p) => p === plugin ? p.registry?.credentials?.(host, context) ?? null : null,
        );
        if (found) byHost.set(host, found.value.headers);
      }
      return withHostCredentials(options.name ? { ...plan, name: options.name } : plan, byHost);
    },
  };
}

/** The built-in registry each built-in plugin of {@link builtinPlugins} wraps. */
const BUILTIN_OF = new WeakMap<Plugin, Registry>();
/** The bridge of each registry plugin, made once (its `prepare` and `resolve` share what was asked). */
const BRIDGES = new WeakMap<Plugin, Registry>();

/**
 * The registry layer's {@link Registry} of the registry plugin `plugin` of `driver`: a built-in's own
 * registry (it parses and resolves in process, unpinned URLs and stored names included), else the
 * plugin's bridge ({@link pluginRegistry}).
 */
export function registryOf(driver: PluginDriver, plugin: Plugin): Registry {
  const builtin = BUILTIN_OF.get(plugin);
  if (builtin !== undefined) return builtin;
  let bridge = BRIDGES.get(plugin);
  if (bridge === undefined) BRIDGES.set(plugin, bridge = pluginRegistry(driver, plugin));
  return bridge;
}

const idle: CallContext = { signal: new AbortController().signal, progress: () => {} };

/**
 * The credentials the registry `registry` of `driver` (a plan's `source.registry`: a plugin's name, or a
 * scheme it claims) gives for `host` through its `registry.credentials` hook; null when it gives none.
 */
export async function registryCredentials(
  driver: PluginDriver,
  registry: string,
  host: string,
): Promise<Record<string, string> | null> {
  const owner = driver.plugins.find((p) => p.registry && p.name === registry) ?? driver.registryFor(registry);
  const credentials = owner?.registry?.credentials;
  if (owner === undefined || credentials === undefined) return null;
  const found = await driver.first(
    "registry.credentials",
    (p) => p === owner ? credentials(host, idle) : null,
  );
  return found?.value.headers ?? null;
}

/** Whether `registry` (a plan's `source.registry`) is a built-in registry's id or scheme. */
export function isBuiltinRegistry(registry: string): boolean {
  return BUILTIN_REGISTRIES.some((r) => r.id === registry) || isBuiltinScheme(registry);
}

/** The schemes of each built-in registry, as the driver knows them. */
const BUILTIN_SCHEMES: Record<string, readonly string[]> = {
  huggingface: ["hf"],
  oci: ["oci"],
  https: ["https", "http"],
  store: ["store"],
};

/**
 * Whether `scheme` is the built-ins' own: one a built-in registry claims, or one of the built-in forms (a
 * `file:` is imported, not pulled). No registry plugin claims such a scheme, so its lookup needs none loaded.
 */
export function isBuiltinScheme(scheme: string): boolean {
  return BUILTIN_FORM_SCHEMES.includes(scheme) ||
    Object.values(BUILTIN_SCHEMES).some((s) => s.includes(scheme));
}

/**
 * A driver with the built-in registries registered (in process; nothing read from disk, nothing started),
 * the plugins to be added after them (plugin_host.ts).
 */
export function builtinDriver(options: {
  registryContext(hosts: string[]): Promise<RegistryContext>;
  settings: RegistrySettings;
}): PluginDriver {
  const driver = new PluginDriver();
  for (const plugin of builtinPlugins((hosts) => options.registryContext(hosts), options.settings)) {
    driver.register(plugin);
  }
  return driver;
}

/**
 * The built-in registries as in-process plugins of the driver: they claim their schemes there (so no
 * plugin can), and answer `registry.resolve` with a pinned descriptor (`store:NAME` names a stored model).
 * Commands resolve with the built-in registries themselves, which these wrap.
 */
export function builtinPlugins(
  registryContext: (hosts: string[]) => Promise<RegistryContext>,
  settings: RegistrySettings,
): Plugin[] {
  return BUILTIN_REGISTRIES.map((registry) => {
    const plugin = builtinPlugin(registry, registryContext, settings);
    BUILTIN_OF.set(plugin, registry);
    return plugin;
  });
}

function builtinPlugin(
  registry: Registry,
  registryContext: (hosts: string[]) => Promise<RegistryContext>,
  settings: RegistrySettings,
): Plugin {
  return {
    name: registry.id,
    registry: {
      schemes: BUILTIN_SCHEMES[registry.id] ?? [],
      async resolve(ref, context) {
        const parsed = parseRef(ref.scheme === "store" ? ref.rest : ref.reference);
        if (!registry.claims(parsed)) {
          throw new LodeError("INVALID_REF", `${registry.id} does not resolve ${ref.reference}`, {
            details: { ref: ref.reference },
          });
        }
        const ctx = await registryContext(registry.hostsFor?.(parsed, settings) ?? []);
        return descriptorFromPlan(await registry.resolve(parsed, { ...ctx, signal: context.signal }));
      },
      // The Hub's token, for the Hub's own host only (credentials.ts): the one place HF_TOKEN becomes a header.
      credentials: (host) => {
        const headers = registry.id === "huggingface" ? hubCredentials(host, settings) : null;
        return Promise.resolve(headers && { headers });
      },
    },
  };
}

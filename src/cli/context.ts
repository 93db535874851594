/**
 * What every command gets: resolved config, the printer, the store, and the
 * network effects (host policy, trusting HTTP client) built from the config.
 *
 * @example
 * ```ts
 * const ctx = await createContext(flags, Deno.env.toObject());
 * const store = await ctx.store();
 * ```
 * @module
 */
import { type Config, type GlobalFlags, loadConfig } from "../config.ts";
import { createTrustingClient, HostPolicy, type PullContext } from "../download/mod.ts";
import { ModelStore } from "../store/mod.ts";
import { Output } from "./output.ts";
import { createPullRenderer } from "./pull_renderer.ts";

/** Flags every command accepts. */
export interface CommonFlags extends GlobalFlags {
  json?: boolean;
  quiet?: boolean;
  /** commander's name for `--no-wait`. */
  wait?: boolean;
}

/** A command's world. */
export interface CommandContext {
  config: Config;
  output: Output;
  flags: CommonFlags;
  store(): Promise<ModelStore>;
  /** The pull context for `urls` the user named (their hosts join the allow-list). */
  pullContext(urls: string[]): Promise<PullContext & { finish(): void }>;
}

/** Builds the context from parsed flags and the environment. */
export async function createContext(
  flags: CommonFlags,
  env: Record<string, string | undefined>,
): Promise<CommandContext> {
  const output = new Output({ json: flags.json === true, quiet: flags.quiet === true, color: !env.NO_COLOR });
  const config = await loadConfig(flags, env);
  let store: Promise<ModelStore> | null = null;
  const openStore = () => (store ??= ModelStore.open(config.storeRoot));
  return {
    config,
    output,
    flags,
    store: openStore,
    async pullContext(urls) {
      const policy = new HostPolicy({
        allowHosts: config.allowHosts,
        httpHosts: config.httpHosts,
        offline: config.offline,
      }).with(urls);
      const client = createTrustingClient({ caCertPems: config.caCertPems });
      const renderer = createPullRenderer(output);
      return {
        store: await openStore(),
        policy,
        client,
        cushionBytes: config.cushionBytes,
        emit: renderer.onEvent,
        lock: {
          wait: flags.wait !== false,
          onWait: (what) => renderer.onEvent({ event: "waiting", reason: "lock", what }),
        },
        finish() {
          renderer.stop();
          client?.close();
        },
      };
    },
  };
}

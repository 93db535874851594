/**
 * The event sinks of the config: the config file's `sinks` list and the repeatable `--sink` flag of
 * `pull`, `sync`, `serve` and `job` (read by src/config.ts, the reader of every setting).
 *
 * - `{"type": "webhook", "url": "https://…", "secret_env": "NAME", "events": ["download.completed"]}`:
 *   the secret is read from the environment variable `secret_env` names.
 * - `{"type": "file", "path": "…", "max_bytes": N, "keep": N}`.
 * - `--sink webhook=URL` (secret from `LODE_WEBHOOK_SECRET`), `--sink file=PATH`.
 *
 * @example
 * ```ts
 * import { sinkFlag } from "./config_sinks.ts";
 * sinkFlag("file=/var/log/lode/events.ndjson", {}); // { type: "file", path: "/var/log/lode/events.ndjson" }
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "./errors.ts";

/** The environment variable of `--sink webhook=URL`'s secret. */
export const WEBHOOK_SECRET_ENV = "LODE_WEBHOOK_SECRET";

const httpUrl = z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
  message: "expected an http(s) URL",
});

/** One entry of the config file's `sinks`. */
export const SinkEntry = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("webhook"),
    url: httpUrl,
    secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable's name"),
    events: z.array(z.string()).optional(),
  }).strict(),
  z.object({
    type: z.literal("file"),
    path: z.string().min(1),
    max_bytes: z.number().int().nonnegative().optional(),
    keep: z.number().int().nonnegative().optional(),
  }).strict(),
]);
export type SinkEntry = z.infer<typeof SinkEntry>;

/** A sink to attach, as the config resolved it. */
export type SinkSpec =
  | {
    type: "webhook";
    url: string;
    /** The `whsec_…` secret; undefined when its variable is not set (an error when the sink is opened). */
    secret: string | undefined;
    /** The variable the secret comes from (`LODE_WEBHOOK_SECRET`). */
    secretEnv: string;
    events?: string[];
  }
  | { type: "file"; path: string; maxBytes?: number; keep?: number };

/** A config file entry as a {@link SinkSpec}. */
export function sinkFromEntry(entry: SinkEntry, env: Record<string, string | undefined>): SinkSpec {
  if (entry.type === "file") {
    return { type: "file", path: entry.path, maxBytes: entry.max_bytes, keep: entry.keep };
  }
  return {
    type: "webhook",
    url: entry.url,
    secret: env[entry.secret_env] || undefined,
    secretEnv: entry.secret_env,
    ...(entry.events ? { events: entry.events } : {}),
  };
}

/** One `--sink` value, `webhook=URL` or `file=PATH`. Throws `USAGE` for anything else. */
export function sinkFlag(value: string, env: Record<string, string | undefined>): SinkSpec {
  const eq = value.indexOf("=");
  const [type, target] = eq === -1 ? [value, ""] : [value.slice(0, eq), value.slice(eq + 1)];
  if (type === "file" && target !== "") return { type: "file", path: target };
  if (type === "webhook" && httpUrl.safeParse(target).success) {
    return {
      type: "webhook",
      url: target,
      secret: env[WEBHOOK_SECRET_ENV] || undefined,
      secretEnv: WEBHOOK_SECRET_ENV,
    };
  }
  throw new LodeError("USAGE", `--sink ${value}: expected webhook=URL or file=PATH`, {
    details: { sink: value },
  });
}

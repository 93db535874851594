/**
 * A plugin's manifest, `lode-plugin.json` in its folder (snake_case, like lode's other files): its name,
 * version, the contract version it was written for, its hook groups, the schemes a registry claims, the
 * entry it runs, and the permissions its sandbox grants, each with a reason (docs/plugins.md). A manifest
 * that breaks the schema is a `PLUGIN_MANIFEST_INVALID` naming the file, line and field.
 *
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * const text = JSON.stringify({
 *   name: "mirror", version: "1.0.0", api_version: 1, hooks: ["registry"], schemes: ["mirror"],
 *   entry: "main.ts",
 *   permissions: { net: [{ host: "mirror.internal", reason: "the mirror's index" }] },
 * });
 * const manifest = parseManifest(text, "/plugins/mirror/lode-plugin.json");
 * manifest.entryPath; // "/plugins/mirror/main.ts"
 * ```
 * @module
 */
import { z } from "zod";
import { LodeError } from "../errors.ts";
import { parseJson } from "../schema/schema_error.ts";
import { API_VERSION, HOOK_GROUPS } from "./api.ts";

/** The manifest's file name in a plugin's folder. */
export const MANIFEST_FILE = "lode-plugin.json";

/** Schemes lode's built-in registries own; no plugin claims them. */
export const RESERVED_SCHEMES: readonly string[] = ["hf", "http", "https", "file", "store"];

/** Environment variables lode's own secrets live in; no plugin receives them, declared or not. */
export const SECRET_ENV: readonly string[] = [
  "HF_TOKEN",
  "HUGGING_FACE_HUB_TOKEN",
  "LODE_WEBHOOK_SECRET",
];

const reason = z.string().trim().min(1, "a reason saying why the plugin needs it");
const NAME = /^[a-z][a-z0-9_-]{0,63}$/;
const SCHEME = /^[a-z][a-z0-9+.-]{0,31}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A host name or address, with an optional port (Deno's --allow-net form); no scheme, no path.
const NET_HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/** The permissions a plugin's sandbox grants, each entry with its reason. */
export const Permissions = z.object({
  net: z.array(z.object({ host: z.string().regex(NET_HOST, "a host[:port]"), reason }).strict())
    .optional(),
  read: z.array(z.object({ path: z.string().min(1), reason }).strict()).optional(),
  write: z.array(z.object({ path: z.string().min(1), reason }).strict()).optional(),
  env: z.array(
    z.object({
      name: z.string().regex(ENV_NAME, "an environment variable's name").refine(
        (name) => !SECRET_ENV.includes(name),
        (name) => ({ message: `${name} is lode's own secret; no plugin receives it` }),
      ),
      reason,
    }).strict(),
  ).optional(),
  run: z.array(z.object({ command: z.string().min(1), reason }).strict()).optional(),
  ffi: z.array(z.object({ path: z.string().min(1), reason }).strict()).optional(),
}).strict();
export type Permissions = z.infer<typeof Permissions>;

/** `lode-plugin.json` as written. */
export const ManifestFile = z.object({
  name: z.string().regex(NAME, "a lowercase name (a-z, 0-9, -, _)"),
  version: z.string().min(1),
  api_version: z.number().int().min(1).max(
    API_VERSION,
    `an api_version this lode implements (1 to ${API_VERSION})`,
  ),
  hooks: z.array(z.enum(HOOK_GROUPS as [string, ...string[]])).min(1),
  schemes: z.array(
    z.string().regex(SCHEME, "a scheme without its colon (mirror)").refine(
      (s) => !RESERVED_SCHEMES.includes(s),
      (s) => ({ message: `the scheme ${s} belongs to a built-in registry` }),
    ),
  ).optional(),
  entry: z.string().min(1),
  description: z.string().optional(),
  permissions: Permissions.default({}),
}).strict().superRefine((m, ctx) => {
  const registry = m.hooks.includes("registry");
  if (registry && (m.schemes ?? []).length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["schemes"],
      message: "a registry plugin claims at least one scheme",
    });
  }
  if (!registry && m.schemes !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["schemes"],
      message: 'only a plugin with the "registry" hooks claims schemes',
    });
  }
  if (m.entry.split("/").includes("..")) {
    ctx.addIssue({ code: "custom", path: ["entry"], message: "a path inside the plugin's folder (no ..)" });
  }
});
export type ManifestFile = z.infer<typeof ManifestFile>;

/** A parsed manifest with its folder and the paths resolved against it. */
export interface PluginManifest extends ManifestFile {
  /** The plugin's folder (absolute). */
  dir: string;
  /** The manifest file (absolute). */
  file: string;
  /** The entry (absolute). */
  entryPath: string;
  /** How the entry runs: `deno` (a TypeScript or JavaScript module under `deno run`) or `exec`. */
  runtime: "deno" | "exec";
}

function dirOf(file: string): string {
  const i = file.lastIndexOf("/");
  return i <= 0 ? "/" : file.slice(0, i);
}

/** `path` resolved against `dir` (an absolute one stays). */
export function resolveIn(dir: string, path: string): string {
  if (path.startsWith("/")) return path;
  const parts = dir.split("/");
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  return parts.join("/") || "/";
}

/** The manifest in `text`, read from `file` (an absolute path). */
export function parseManifest(text: string, file: string): PluginManifest {
  const parsed = parseJson(ManifestFile, text, {
    code: "PLUGIN_MANIFEST_INVALID",
    subject: `plugin manifest ${file}`,
    file,
  });
  const dir = dirOf(file);
  return {
    ...parsed,
    dir,
    file,
    entryPath: resolveIn(dir, parsed.entry),
    runtime: /\.(?:ts|mts|js|mjs)$/.test(parsed.entry) ? "deno" : "exec",
  };
}

/** The manifest of the plugin in folder `dir`. */
export async function readManifest(dir: string): Promise<PluginManifest> {
  const absolute = resolveIn(Deno.cwd(), dir).replace(/\/$/, "");
  const file = `${absolute}/${MANIFEST_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new LodeError("PLUGIN_MANIFEST_INVALID", `${absolute} has no readable ${MANIFEST_FILE}`, {
      details: { file, line: null, field: "(root)" },
      cause: e,
    });
  }
  return parseManifest(text, file);
}

/**
 * `lode plugin ls | add PATH [--yes] | rm NAME | test DIR [--ref REF]… [--model FILE] | new KIND DIR`:
 * the installed plugins (`$XDG_CONFIG_HOME/lode/plugins/<name>/`, each a link to the plugin's folder, so
 * the modules it imports, such as the SDK, keep resolving), their conformance, and new ones.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { PluginManifest } from "../../plugin/manifest.ts";
import { readManifest } from "../../plugin/manifest.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { acceptedFile, installedPluginDirs, powerfulPermissions, supervise } from "../plugin_host.ts";
import { scaffold, SCAFFOLD_KINDS, type ScaffoldKind } from "../plugin_scaffold.ts";

const ACTIONS = "ls | add PATH | rm NAME | test DIR | new registry|sink|backend DIR";

/** `lode plugin`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const action = parsed.args.action as string;
  const target = parsed.args.target as string | undefined;
  const extra = parsed.args.dir as string | undefined;
  const needs = (what: string) => {
    if (target === undefined) throw new LodeError("USAGE", `lode plugin ${action} needs ${what}`);
    return target;
  };
  switch (action) {
    case "ls":
    case "list":
      return await list(ctx);
    case "add":
    case "install":
      return await add(ctx, needs("a plugin folder: lode plugin add PATH"), parsed.options.yes === true);
    case "rm":
    case "remove":
      return await remove(ctx, needs("a plugin name: lode plugin rm NAME"));
    case "test":
      return await test(ctx, needs("a plugin folder: lode plugin test DIR"), parsed);
    case "new": {
      const kind = needs("a kind and a folder: lode plugin new registry|sink|backend DIR");
      if (extra === undefined) {
        throw new LodeError("USAGE", "lode plugin new needs a folder: lode plugin new KIND DIR");
      }
      return await create(ctx, kind, extra);
    }
    default:
      throw new LodeError("USAGE", `unknown plugin action "${action}": lode plugin ${ACTIONS}`);
  }
}

function describe(m: PluginManifest) {
  return {
    name: m.name,
    version: m.version,
    api_version: m.api_version,
    hooks: m.hooks,
    schemes: m.schemes ?? [],
    dir: m.dir,
    permissions: m.permissions,
  };
}

async function list(ctx: CommandContext): Promise<void> {
  const dirs = [...(ctx.flags.plugin ?? []), ...await installedPluginDirs(ctx.config.pluginsDir)];
  for (const dir of dirs) {
    const m = await readManifest(dir);
    const installed = !(ctx.flags.plugin ?? []).includes(dir);
    ctx.output.event({ event: "plugin", ...describe(m), installed });
    const schemes = m.schemes?.length ? `  ${m.schemes.map((s) => `${s}:`).join(" ")}` : "";
    ctx.output.result(
      `${m.name}  ${m.version}  ${m.hooks.join(",")}${schemes}  ${installed ? m.dir : "(--plugin)"}`,
    );
  }
  if (dirs.length === 0) ctx.output.note(`no plugins installed in ${ctx.config.pluginsDir}`);
}

/** Each permission with its reason, one line each. */
function permissionLines(m: PluginManifest): string[] {
  const p = m.permissions;
  return [
    ...(p.net ?? []).map((e) => `net ${e.host}: ${e.reason}`),
    ...(p.read ?? []).map((e) => `read ${e.path}: ${e.reason}`),
    ...(p.write ?? []).map((e) => `write ${e.path}: ${e.reason}`),
    ...(p.env ?? []).map((e) => `env ${e.name}: ${e.reason}`),
    ...(p.run ?? []).map((e) => `run ${e.command}: ${e.reason}`),
    ...(p.ffi ?? []).map((e) => `ffi ${e.path}: ${e.reason}`),
  ];
}

async function confirm(question: string): Promise<boolean> {
  if (!Deno.stdin.isTerminal()) return false;
  await Deno.stderr.write(new TextEncoder().encode(`${question} [y/N] `));
  const buf = new Uint8Array(64);
  const n = await Deno.stdin.read(buf);
  return /^y(es)?$/i.test(new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim());
}

async function add(ctx: CommandContext, path: string, yes: boolean): Promise<void> {
  const m = await readManifest(path);
  const lines = permissionLines(m);
  ctx.output.note(`plugin ${m.name} ${m.version} (${m.hooks.join(", ")}) asks for:`);
  for (const line of lines.length ? lines : ["no permission"]) ctx.output.note(`  ${line}`);
  const powerful = [...(m.permissions.run ?? []), ...(m.permissions.ffi ?? [])];
  if (powerful.length > 0 && !yes && !await confirm("It may run programs or load native code. Install?")) {
    throw new LodeError(
      "PLUGIN_DENIED",
      `plugin ${m.name} asks for run or ffi permissions, which were not accepted`,
      {
        details: {
          plugin: m.name,
          permissions: { run: m.permissions.run ?? [], ffi: m.permissions.ffi ?? [] },
        },
        hint: "Read the reasons above; accept them with `lode plugin add PATH --yes`.",
      },
    );
  }
  const link = `${ctx.config.pluginsDir}/${m.name}`;
  await Deno.mkdir(ctx.config.pluginsDir, { recursive: true });
  let replaced = false;
  try {
    await Deno.lstat(link);
    await Deno.remove(link, { recursive: false });
    replaced = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new LodeError("IO", `cannot replace ${link}: ${(e as Error).message}`, {
        details: { path: link },
      });
    }
  }
  await Deno.symlink(m.dir, link);
  await Deno.writeTextFile(
    acceptedFile(ctx.config.pluginsDir, m.name),
    JSON.stringify(powerfulPermissions(m)) + "\n",
  );
  ctx.output.event({ event: "plugin_added", ...describe(m), link, replaced });
  ctx.output.result(`${replaced ? "replaced" : "added"} plugin ${m.name} ${m.version}: ${link} -> ${m.dir}`);
}

async function remove(ctx: CommandContext, name: string): Promise<void> {
  const link = `${ctx.config.pluginsDir}/${name}`;
  try {
    await Deno.lstat(link);
  } catch {
    const names = (await installedPluginDirs(ctx.config.pluginsDir)).map((d) =>
      d.slice(d.lastIndexOf("/") + 1)
    );
    throw new LodeError("PLUGIN_NOT_FOUND", `no plugin named "${name}" is installed`, {
      details: { name, installed: names },
      hint: `Installed plugins: ${names.join(", ") || "(none)"}.`,
    });
  }
  await Deno.remove(link);
  await Deno.remove(acceptedFile(ctx.config.pluginsDir, name)).catch(() => {});
  ctx.output.event({ event: "plugin_removed", name, link });
  ctx.output.result(`removed plugin ${name}`);
}

async function test(ctx: CommandContext, dir: string, parsed: ParsedArgv): Promise<void> {
  const { pluginConformance } = await import("../../plugin/conformance/run_conformance.ts");
  const m = await readManifest(dir);
  const plugin = supervise(m, Deno.env.toObject(), { callTimeoutMs: 10_000, maxFailures: 1000 });
  const refs = parsed.options.ref as string[] | undefined;
  const model = parsed.options.model as string | undefined;
  const checks = await pluginConformance(plugin, { ...(refs ? { refs } : {}), ...(model ? { model } : {}) });
  for (const c of checks) {
    ctx.output.event({ event: "plugin_check", plugin: m.name, ...c });
    ctx.output.result(`${c.ok ? "ok  " : "FAIL"}  ${c.suite}: ${c.name}${c.ok ? "" : `: ${c.message}`}`);
  }
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    throw new LodeError(
      "PLUGIN_FAILED",
      `plugin ${m.name} failed ${failed.length} of ${checks.length} conformance checks`,
      {
        details: { plugin: m.name, failed: failed.map((c) => `${c.suite}: ${c.name}`) },
      },
    );
  }
  ctx.output.note(`plugin ${m.name} passed ${checks.length} conformance checks`);
}

async function create(ctx: CommandContext, kind: string, dir: string): Promise<void> {
  if (!(SCAFFOLD_KINDS as readonly string[]).includes(kind)) {
    throw new LodeError("USAGE", `lode plugin new makes ${SCAFFOLD_KINDS.join(", ")}, not "${kind}"`);
  }
  const name = dir.replace(/\/+$/, "").slice(dir.replace(/\/+$/, "").lastIndexOf("/") + 1);
  const sdk = new URL("../../../plugins/sdk/mod.ts", import.meta.url).href;
  const files = scaffold(kind as ScaffoldKind, name, sdk);
  try {
    const parent = dir.replace(/\/+$/, "").slice(0, Math.max(0, dir.replace(/\/+$/, "").lastIndexOf("/")));
    if (parent) await Deno.mkdir(parent, { recursive: true });
    await Deno.mkdir(dir, { recursive: false });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new LodeError("USAGE", `${dir} exists already: lode plugin new makes a new folder`, {
        details: { path: dir },
      });
    }
    throw new LodeError("IO", `cannot make ${dir}: ${(e as Error).message}`, { details: { path: dir } });
  }
  for (const [file, text] of Object.entries(files)) await Deno.writeTextFile(`${dir}/${file}`, text);
  ctx.output.event({ event: "plugin_created", name, kind, dir, files: Object.keys(files) });
  ctx.output.result(`made ${kind} plugin ${name} in ${dir}; check it with: lode plugin test ${dir}`);
}

/**
 * `lode lock add REF [--name N]`, `lode lock rm NAME`, `lode lock key`: edit
 * `lode.lock` (or `--lockfile PATH`, `$LODE_LOCKFILE`) and print its cache key.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { LockEntry } from "../../lock/lockfile.ts";
import { findEntry, lockfilePath, readLockfile, withoutEntry, writeLockfile } from "../../lock/lockfile.ts";
import { lockKey } from "../../lock/cache_key.ts";
import { pinToLockfile } from "../../lock/pin_plan.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";
import { pullResolved, resolveRef } from "../pull_ref.ts";

const ACTIONS = "add REF [--name N] | rm NAME | key";

/** `lode lock`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const action = parsed.args.action as string;
  const target = parsed.args.target as string | undefined;
  const path = lockfilePath(parsed.options.lockfile as string | undefined, ctx.config.lockfile);
  const needs = (what: string) => {
    if (target === undefined) throw new LodeError("USAGE", `lode lock ${action} needs ${what}`);
    return target;
  };
  if (action !== "add" && parsed.options.name !== undefined) {
    throw new LodeError("USAGE", "--name applies to `lode lock add`");
  }
  switch (action) {
    case "add":
      return await add(ctx, path, needs("a reference: lode lock add REF [--name N]"), parsed);
    case "rm":
    case "remove":
      return await remove(ctx, path, needs("a model name: lode lock rm NAME"));
    case "key": {
      if (target !== undefined) throw new LodeError("USAGE", `lode lock key takes no argument`);
      const key = lockKey(await readLockfile(path));
      ctx.emit("lock", { event: "lock_key", lockfile: path, key });
      ctx.output.result(key);
      return;
    }
    default:
      throw new LodeError("USAGE", `unknown lock action "${action}": lode lock ${ACTIONS}`);
  }
}

async function add(ctx: CommandContext, path: string, ref: string, parsed: ParsedArgv): Promise<void> {
  const name = parsed.options.name as string | undefined;
  const mirrors = parsed.options.mirror as string[] | undefined;
  const { entry, replaced, downloaded } = await pinToLockfile(path, ref, {
    store: await ctx.store(),
    resolve: (r, options) => resolveRef(ctx, r, { ...options, ...(mirrors ? { mirrors } : {}) }),
    pull: (p) => pullResolved(ctx, p),
    ...(name === undefined ? {} : { name }),
  }).finally(() => ctx.endProgress());
  ctx.emit("lock", {
    event: "lock_added",
    lockfile: path,
    model: entry.name,
    replaced,
    downloaded,
    files: entry.files.map((f) => ({ filename: f.filename, sha256: f.sha256!, size_bytes: f.size! })),
  });
  ctx.output.result(`${replaced ? "updated" : "locked"} ${entry.name} in ${path}`);
  for (const line of describeFiles(entry)) ctx.output.result(`  ${line}`);
}

function describeFiles(entry: LockEntry): string[] {
  return entry.files.map((f) => `${f.filename}  sha256:${f.sha256}  ${formatBytes(f.size ?? 0)}`);
}

async function remove(ctx: CommandContext, path: string, name: string): Promise<void> {
  const lock = await readLockfile(path);
  if (!findEntry(lock, name)) {
    throw new LodeError("MODEL_NOT_FOUND", `${path} has no entry named "${name}"`, {
      details: { name, lockfile: path, locked: lock.models.map((m) => m.name) },
      hint: `Locked models: ${lock.models.map((m) => m.name).join(", ") || "(none)"}.`,
    });
  }
  await writeLockfile(path, withoutEntry(lock, name));
  ctx.emit("lock", { event: "lock_removed", lockfile: path, model: name });
  ctx.output.result(`removed ${name} from ${path}`);
  ctx.output.note(`note: the store still holds it; \`lode rm ${name}\` removes it from the store.`);
}

/**
 * `lode sync [NAME…] [--frozen] [--offline]`: install what `lode.lock` pins,
 * re-hashing every blob lode did not write itself (a cache restore).
 * @module
 */
import { lockfilePath, readLockfile, writeLockfile } from "../../lock/lockfile.ts";
import { syncLockfile } from "../../lock/sync.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

const LABEL = {
  trusted: "trusted",
  verified: "re-hashed",
  corrupt: "CORRUPT",
  missing: "missing",
  unpinned: "unpinned",
};

/** `lode sync`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const started = performance.now();
  const path = lockfilePath(parsed.options.lockfile as string | undefined, ctx.config.lockfile);
  const frozen = parsed.options.frozen === true;
  const lock = await readLockfile(path);
  const store = await ctx.store();
  const outcome = await syncLockfile(lock, {
    store,
    names: parsed.args.name as string[],
    frozen,
    offline: ctx.config.offline,
    lock: { wait: ctx.flags.wait !== false },
    // Every pull shares the command's network (one connection budget, one set of clients, one display).
    // The download engine is loaded only when something has to be pulled: a warm sync never needs it.
    // Credentials are never in the lockfile: the pull adds this run's (HF_TOKEN to the Hub's host only).
    pull: async (plan) => {
      const [{ pullResolvedPlan }, { pullEffects }] = await Promise.all([
        import("../../registry/pull_reference.ts"),
        import("../pull_ref.ts"),
      ]);
      return await pullResolvedPlan(plan, pullEffects(ctx));
    },
    emit: ctx.output.sink((event) => {
      ctx.emit("lock", event);
      if (event.event === "sync_check") {
        const size = event.size_bytes === null ? "" : `  ${formatBytes(event.size_bytes)}`;
        const time = event.status === "verified" || event.status === "corrupt" ? `  ${event.ms} ms` : "";
        ctx.output.note(`${LABEL[event.status].padEnd(9)}  ${event.model}  ${event.filename}${size}${time}`);
      }
    }),
  });
  await ctx.endProgress();
  if (outcome.changed) await writeLockfile(path, outcome.lock);
  for (const m of outcome.models) ctx.output.result(`${m.status.padEnd(7)} ${m.name}`);
  const count = (status: string) => outcome.blobs.filter((b) => b.status === status).length;
  const repaired = count("corrupt") + count("missing");
  const ms = Math.round(performance.now() - started);
  ctx.emit("lock", {
    event: "sync_completed",
    lockfile: path,
    models: outcome.models.length,
    blobs: outcome.blobs.length,
    trusted: count("trusted"),
    verified: count("verified"),
    repaired,
    hashed_bytes: outcome.hashedBytes,
    check_ms: outcome.checkMs,
    ms,
    lockfile_changed: outcome.changed,
    ok: outcome.error === null,
  });
  const trusted = `${count("trusted")} trusted (written by lode)`;
  const rehashed = `${count("verified")} re-hashed (${formatBytes(outcome.hashedBytes)})`;
  const checked = `checked ${outcome.blobs.length} blob(s) in ${outcome.checkMs} ms`;
  ctx.output.result(
    `${checked}: ${trusted}, ${rehashed}, ${repaired} missing or corrupt; sync took ${ms} ms`,
  );
  if (outcome.changed) ctx.output.note(`pinned unpinned files in ${path}: commit it.`);
  if (outcome.error) {
    // Text: every failed model; --json: one `error` event (pulls also printed their `failed` events).
    if (!ctx.output.json) {
      for (const m of outcome.models) if (m.error && m.error !== outcome.error) ctx.output.error(m.error);
    }
    ctx.error(outcome.error);
    ctx.output.exitCode = outcome.error.exitCode;
  }
}

/**
 * `lode sync [NAME…] [--frozen] [--offline]`: install what `lode.lock` pins,
 * re-hashing every blob lode did not write itself (a cache restore).
 * @module
 */
import { lockfilePath } from "../../lock/lockfile.ts";
import { syncLockfileAt } from "../../lock/sync_file.ts";
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
  const { outcome, summary } = await syncLockfileAt(path, {
    store: () => ctx.store(),
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
  }).finally(() => ctx.endProgress());
  for (const m of outcome.models) ctx.output.result(`${m.status.padEnd(7)} ${m.name}`);
  const ms = Math.round(performance.now() - started);
  ctx.emit("lock", { event: "sync_completed", ...summary, ms });
  const trusted = `${summary.trusted} trusted (written by lode)`;
  const rehashed = `${summary.verified} re-hashed (${formatBytes(summary.hashed_bytes)})`;
  const checked = `checked ${summary.blobs} blob(s) in ${summary.check_ms} ms`;
  ctx.output.result(
    `${checked}: ${trusted}, ${rehashed}, ${summary.repaired} missing or corrupt; sync took ${ms} ms`,
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

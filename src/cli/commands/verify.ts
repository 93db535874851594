/**
 * `lode verify [NAME… | --all]`: re-hash blobs; a mismatch quarantines the blob and fails. With `--json`, a
 * `verified` event per model, then `verify_done` with the counts (also for a store with no model: `models`
 * 0, and a line saying so for people), then the first failure's `error`.
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { VerifiedEvent, VerifyDoneEvent } from "../../events/store_event.ts";
import { verifyModel } from "../../store/verify_model.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** `lode verify`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const store = await ctx.store();
  let names = parsed.args.name as string[];
  if (parsed.options.all) names = (await store.list()).models.map((m) => m.name);
  else if (names.length === 0) throw new LodeError("USAGE", "name a model to verify, or pass --all");
  const started = performance.now();
  const failures: LodeError[] = [];
  for (const name of names) {
    const modelStarted = performance.now();
    const r = await verifyModel(store, name);
    const ms = Math.round(performance.now() - modelStarted);
    ctx.output.event({ event: "verified", ...r, ms } satisfies VerifiedEvent);
    if (r.ok) {
      const files = r.files ? `  (${r.files.length} files)` : "";
      ctx.output.result(
        `ok      ${name}  sha256:${r.expected.slice(0, 12)}  ${formatBytes(r.sizeBytes)}${files}  ${ms} ms`,
      );
      continue;
    }
    const which = r.files?.find((f) => !f.ok)?.filename;
    const blob = which ? `the blob of ${which}` : "its blob";
    failures.push(
      r.problem === "BLOB_MISSING"
        ? new LodeError("BLOB_MISSING", `${name}: ${blob} is missing`, { details: { ...r } })
        : new LodeError(
          "DIGEST_MISMATCH",
          `${name}: ${blob} has sha256 ${r.actual}, expected ${r.expected}; moved to ${r.quarantinePath}`,
          { details: { ...r }, hint: `Run \`lode pull ${name}\` to download it again.` },
        ),
    );
    ctx.output.result(`FAILED  ${name}  ${r.problem}`);
  }
  ctx.output.event(
    {
      event: "verify_done",
      models: names.length,
      ok: names.length - failures.length,
      failed: failures.length,
      ms: Math.round(performance.now() - started),
    } satisfies VerifyDoneEvent,
  );
  if (names.length === 0) {
    ctx.output.result(`no models in the store (${store.layout.root}): nothing to verify`);
  }
  for (const failure of failures) ctx.output.error(failure);
  if (failures.length > 0) ctx.output.exitCode = failures[0]!.exitCode;
}

/**
 * `lode verify [NAME… | --all]`: re-hash blobs; a mismatch quarantines the blob and fails. A `gguf`
 * model's blobs must also read as GGUF files (`GGUF_INVALID` otherwise); with `--all`, a manifest that
 * does not parse is a failure too. With `--json`, a `verified` event per model, then `verify_done` with
 * the counts (also for a store with no model: `models` 0, and a line saying so for people), then the first
 * failure's `error`.
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
  const failures: LodeError[] = [];
  let unreadable: LodeError[] = [];
  if (parsed.options.all) {
    const { models, problems } = await store.list();
    names = models.map((m) => m.name);
    unreadable = problems;
  } else if (names.length === 0) throw new LodeError("USAGE", "name a model to verify, or pass --all");
  const started = performance.now();
  for (const name of names) {
    const modelStarted = performance.now();
    const r = await verifyModel(store, name);
    const ms = Math.round(performance.now() - modelStarted);
    ctx.emit("store", { event: "verified", ...r, ms } satisfies VerifiedEvent);
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
        : r.problem === "GGUF_INVALID"
        ? new LodeError("GGUF_INVALID", `${name}: ${blob} is not a well-formed GGUF model: ${r.reason}`, {
          details: { ...r },
          hint: `The bytes are the ones its manifest names (pulling again brings the same): remove it ` +
            `with \`lode rm ${name}\`, then pull or convert the model again.`,
        })
        : new LodeError(
          "DIGEST_MISMATCH",
          `${name}: ${blob} has sha256 ${r.actual}, expected ${r.expected}; moved to ${r.quarantinePath}`,
          { details: { ...r }, hint: `Run \`lode pull ${name}\` to download it again.` },
        ),
    );
    ctx.output.result(`FAILED  ${name}  ${r.problem}`);
  }
  failures.push(...unreadable);
  const models = names.length + unreadable.length;
  ctx.emit(
    "store",
    {
      event: "verify_done",
      models,
      ok: models - failures.length,
      failed: failures.length,
      ms: Math.round(performance.now() - started),
    } satisfies VerifyDoneEvent,
  );
  if (models === 0) ctx.output.result(`no models in the store (${store.layout.root}): nothing to verify`);
  for (const failure of failures) ctx.error(failure);
  if (failures.length > 0) ctx.output.exitCode = failures[0]!.exitCode;
}

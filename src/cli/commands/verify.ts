/**
 * `lode verify [NAME… | --all]`: re-hash blobs; a mismatch quarantines the blob and fails. A `gguf`
 * model's blobs must also read as GGUF files (`GGUF_INVALID` otherwise).
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { VerifiedEvent } from "../../events/store_event.ts";
import { verifyModel } from "../../store/verify_model.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";

/** `lode verify`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const store = await ctx.store();
  let names = parsed.args.name as string[];
  // --all: a manifest that does not parse is a failure too (named after the models that do).
  let unreadable: LodeError[] = [];
  if (parsed.options.all) {
    const { models, problems } = await store.list();
    names = models.map((m) => m.name);
    unreadable = problems;
  } else if (names.length === 0) throw new LodeError("USAGE", "name a model to verify, or pass --all");
  for (const name of names) {
    const started = performance.now();
    const r = await verifyModel(store, name);
    const ms = Math.round(performance.now() - started);
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
    const failed = r.problem === "BLOB_MISSING"
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
      );
    ctx.output.result(`FAILED  ${name}  ${r.problem}`);
    ctx.output.error(failed);
    ctx.output.exitCode = failed.exitCode;
  }
  for (const problem of unreadable) {
    ctx.output.error(problem);
    ctx.output.exitCode = problem.exitCode;
  }
}

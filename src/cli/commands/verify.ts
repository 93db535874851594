/**
 * `lode verify [NAME… | --all]`: re-hash blobs; a mismatch quarantines the blob and fails.
 * @module
 */
import type { Command } from "commander";
import { LodeError } from "../../errors.ts";
import { formatBytes } from "../output.ts";
import { example, type Runner } from "./common.ts";

/** Registers `verify`. */
export function registerVerify(program: Command, run: Runner): void {
  program.command("verify")
    .description("re-hash models' bytes; a mismatch moves the blob to quarantine and exits non-zero")
    .argument("[name...]", "model names")
    .option("--all", "verify every model in the store")
    .addHelpText("after", example("lode verify --all", "lode verify stories260K --json"))
    .action(run(async (ctx, names: string[], opts: { all?: boolean }) => {
      const store = await ctx.store();
      if (opts.all) names = (await store.list()).models.map((m) => m.name);
      else if (names.length === 0) throw new LodeError("USAGE", "name a model to verify, or pass --all");
      let failed: LodeError | null = null;
      for (const name of names) {
        const started = performance.now();
        const r = await store.verify(name);
        const ms = Math.round(performance.now() - started);
        ctx.output.event({ event: "verified", ...r, ms });
        if (r.ok) {
          const { size } = await Deno.stat(store.layout.blobPath(r.expected));
          ctx.output.result(
            `ok      ${name}  sha256:${r.expected.slice(0, 12)}  ${formatBytes(size)}  ${ms} ms`,
          );
          continue;
        }
        failed = r.problem === "BLOB_MISSING"
          ? new LodeError("BLOB_MISSING", `${name}: its blob is missing`, { details: { ...r } })
          : new LodeError(
            "DIGEST_MISMATCH",
            `${name}: blob has sha256 ${r.actual}, expected ${r.expected}; moved to ${r.quarantinePath}`,
            { details: { ...r }, hint: `Run \`lode pull ${name}\` to download it again.` },
          );
        ctx.output.result(`FAILED  ${name}  ${r.problem}`);
        ctx.output.error(failed);
      }
      if (failed) Deno.exitCode = failed.exitCode;
    }));
}

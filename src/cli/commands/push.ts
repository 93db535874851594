/**
 * `lode push NAME oci://HOST[:PORT]/REPO:TAG [--format modelpack|docker]`: upload a stored model to an
 * OCI registry (src/registry/oci/oci_push.ts) as a model-push job, recorded under `$MODELS_HOME/jobs/`
 * (`lode job ls`), run in this process: SIGINT or SIGTERM (`lode job cancel ID`) cancels it; a push
 * killed mid-upload reads `interrupted`, and `lode push` of the same model, target and format again
 * resumes that job (as `lode job resume ID` does) from the bytes the registry has. Progress on a
 * terminal's stderr; `--json` prints the push's events and the job's.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { claimJob, resumableRecord } from "../../jobs/job_claim.ts";
import { planJob } from "../../jobs/job_plan.ts";
import { type JobRecord, JobRecords } from "../../jobs/job_record.ts";
import { parseJobSpec, type SpecOf } from "../../jobs/job_spec.ts";
import type { PushedEvent } from "../../events/push_event.ts";
import { parseRef } from "../../registry/reference.ts";
import type { ParsedArgv } from "../args.ts";
import type { CommandContext } from "../context.ts";
import { formatBytes } from "../output.ts";
import { runJobHere } from "../run_job_here.ts";

/** `lode push`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const name = parsed.args.name as string;
  const target = parsed.args.target as string;
  const format = (parsed.options.format as string | undefined) ?? "modelpack";
  if (format !== "modelpack" && format !== "docker") {
    throw new LodeError("USAGE", `--format is modelpack or docker, not "${format}"`);
  }
  if (parseRef(target).kind !== "oci") {
    throw new LodeError("USAGE", `lode push sends models to OCI registries, not to ${target}`, {
      hint: "Name the target as oci://HOST[:PORT]/REPO:TAG (docs/oci.md).",
    });
  }
  const spec = parseJobSpec("model-push", { model: name, target, format }) as SpecOf<"model-push">;
  await (await ctx.store()).getManifest(name); // MODEL_NOT_FOUND before a job is recorded
  const records = new JobRecords(ctx.config.storeRoot);
  const interrupted = await interruptedPush(records, spec);
  const record = interrupted ?? await records.create(planJob(spec), Deno.cwd());
  // One process runs a job: a second push resuming the same one fails here with JOB_RUNNING.
  await using _claim = await claimJob(records.jobDir(record.id));
  // Read again under the claim: another process may have resumed and finished it meanwhile.
  const current = interrupted ? resumableRecord(await records.read(record.id)) : record;
  if (interrupted) ctx.output.note(`resuming job ${record.id} (interrupted)`);
  const outcome = await runJobHere(ctx, records, current);
  ctx.output.event({ event: "job", ...outcome.record });
  if (outcome.error) throw outcome.error;
  const pushed = outcome.record.result as PushedEvent;
  const mounted = pushed.blobs_mounted ? `, ${pushed.blobs_mounted} mounted` : "";
  const uploaded = `${pushed.blobs_uploaded} blob${pushed.blobs_uploaded === 1 ? "" : "s"} uploaded`;
  ctx.output.result(
    `pushed ${pushed.name} to ${pushed.reference}  ${pushed.digest}  (${uploaded}, ${
      formatBytes(pushed.bytes_uploaded)
    }${mounted}; ${pushed.blobs_skipped} already there) in ${pushed.ms} ms  [job ${record.id}]`,
  );
}

/** The newest interrupted model-push job of the same model, target and format, or null. */
async function interruptedPush(
  records: JobRecords,
  spec: SpecOf<"model-push">,
): Promise<JobRecord | null> {
  const summaries = (await records.list()).filter((s) =>
    s.kind === "model-push" && s.state === "interrupted"
  );
  for (const s of summaries.reverse()) {
    const r = await records.read(s.id).catch(() => null);
    const other = r?.plan.spec as SpecOf<"model-push"> | undefined;
    if (r && other?.model === spec.model && other.target === spec.target && other.format === spec.format) {
      return r;
    }
  }
  return null;
}

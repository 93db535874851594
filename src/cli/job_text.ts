/**
 * Job records, plans and events as text for people: one line a job for `lode job ls`, a block for
 * `lode job show` and `lode job plan`.
 * @module
 */
import type { JobPlan } from "../jobs/job_plan.ts";
import type { JobSummary } from "../jobs/job_index.ts";
import type { JobRecord } from "../jobs/job_record.ts";
import { formatBytes } from "./output.ts";

/** The header line of `lode job ls`. */
export const JOB_LS_HEADER = "ID                KIND                      STATE        PROGRESS      MODEL";

/** One line of `lode job ls`. */
export function jobLine(r: JobSummary): string {
  return [
    r.id.padEnd(17),
    r.kind.padEnd(25),
    r.state.padEnd(12),
    progressText(r).padEnd(13),
    r.model,
  ].join(" ");
}

/** The progress of a record in its unit: `12.0 MiB / 40.0 MiB`, `1/2 files`. */
export function progressText(r: Pick<JobRecord, "progress">): string {
  const { unit, done, total } = r.progress;
  if (unit === "bytes") {
    return total === null ? formatBytes(done) : `${formatBytes(done)} / ${formatBytes(total)}`;
  }
  return `${done}/${total ?? "?"} ${unit}`;
}

/** `lode job show`: the record, a field a line. */
export function recordLines(r: JobRecord): string[] {
  const lines = [
    `id:         ${r.id}`,
    `kind:       ${r.kind}`,
    `state:      ${r.state}`,
    `created:    ${r.created_at}`,
    `started:    ${r.started_at ?? "-"}`,
    `finished:   ${r.finished_at ?? "-"}`,
    `progress:   ${progressText(r)}${r.progress.message ? `  (${r.progress.message})` : ""}`,
    `pid:        ${r.pid ?? "-"}`,
    `attempts:   ${r.attempts}`,
    `directory:  ${r.cwd}`,
  ];
  for (const [k, v] of Object.entries(r.plan.metadata)) lines.push(`${(k + ":").padEnd(12)}${v}`);
  if (r.error) lines.push(`error:      [${r.error.code}] ${r.error.message}`);
  if (r.result !== null) lines.push(`result:     ${JSON.stringify(r.result)}`);
  for (const a of r.artifacts) {
    const size = a.size === null ? "" : `  ${formatBytes(a.size)}`;
    const sha = a.sha256 === null ? "" : `  sha256:${a.sha256.slice(0, 12)}`;
    lines.push(`artifact:   ${a.id}  ${a.path}${size}${sha}`);
  }
  for (const d of r.diagnostics) lines.push(`note:       ${d}`);
  return lines;
}

/** `lode job plan`: the plan, a field a line. */
export function planLines(p: JobPlan): string[] {
  return [
    `kind:          ${p.kind}`,
    `title:         ${p.title}`,
    `side effects:  ${p.side_effects.join(", ")}`,
    `requires:      ${p.requirements.join(", ")}`,
    `progress in:   ${p.progress_unit}`,
    `cancellable:   ${p.cancellable ? "yes" : "no"}`,
    `resumable:     ${p.resumable ? "yes" : "no"}`,
    ...Object.entries(p.metadata).map(([k, v]) => `${(k + ":").padEnd(15)}${v}`),
    ...p.expected_artifacts.map((a) => `artifact:      ${a.id}  ${a.path}  (${a.media_type})`),
  ];
}

/**
 * When two jobs are the same work, so that a second asking joins the first: a download of the same
 * reference (and name and digest), a warmup of the same model (and context size).
 * @module
 */
import type { JobSpec } from "../../jobs/job_spec.ts";

/** What makes two jobs the same work: a download of the same reference, a warmup of the same model. */
export function shareKey(spec: JobSpec): string | null {
  switch (spec.kind) {
    case "model-download":
      return JSON.stringify([spec.kind, spec.ref, spec.name ?? null, spec.sha256 ?? null]);
    case "model-warmup":
      return JSON.stringify([spec.kind, spec.model, spec.context_size ?? null]);
    default:
      return null;
  }
}

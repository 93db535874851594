/**
 * Jobs: kinds and specs, pure plans, records on disk, and the runner. Job events are in
 * src/events/job_event.ts (exported by src/events/mod.ts).
 * @module
 */
export {
  isJobKind,
  JOB_KINDS,
  type JobKind,
  JobSpec,
  parseJobSpec,
  type SpecOf,
  specPathProblem,
} from "./job_spec.ts";
export { ExpectedArtifact, JobPlan, modelMetadata, planJob, ProgressUnit, SideEffect } from "./job_plan.ts";
export { JobRecord, JobRecords, newJobId } from "./job_record.ts";
export { type JobSummary, summaryOf } from "./job_index.ts";
export { type JobOutcome, runJob, type RunJobOptions } from "./job_runner.ts";
export type { JobContext, JobEffect, JobEffects, PullEffect } from "./job_context.ts";
export { processAlive, processStart } from "./process_alive.ts";
export { ClaimHolder, claimJob, claimPath, type JobClaim, jobRunningError, readClaim } from "./job_claim.ts";

/**
 * Typed event unions: the wire format of pulls, status streams and the store commands
 * (lock and sync: `lock_event.ts`); the envelope every event travels in (`envelope.ts`) and the fan-out
 * that delivers it to every subscriber (`event_stream.ts`); a load's `download` phase from a pull's download
 * events (`download_status.ts`).
 * @module
 */
export {
  CompletedEvent,
  DownloadEvent,
  FailedEvent,
  FileCompletedEvent,
  FileProgressEvent,
  FileRestartedEvent,
  FileStartedEvent,
  MirrorFailedEvent,
  RestartReason,
  StartedEvent,
  toMb,
  WaitingEvent,
} from "./download_event.ts";
export {
  Capabilities,
  type LoadingModelEvent,
  LoadPhase,
  StatusEvent,
  StatusLine,
  statusLine,
  UnloadReason,
} from "./status_event.ts";
export {
  DoneEvent,
  EmbeddingEvent,
  InferenceEvent,
  TokenEvent,
  Usage as InferenceUsage,
} from "./inference_event.ts";
export { ErrorEvent, ErrorFields } from "./error_event.ts";
export {
  BundleBlobEvent,
  CollectedEvent,
  ExportedEvent,
  GcDoneEvent,
  GcEvent,
  GcKind,
  ImportedEvent,
  ModelEvent,
  PathEvent,
  ProblemEvent,
  RemovedEvent,
  SkippedEvent,
  StoreEvent,
  VerifiedEvent,
  VerifyDoneEvent,
} from "./store_event.ts";
export { InspectEvent, InspectFile } from "./inspect_event.ts";
export { PushBlobEvent, PushedEvent, PushEvent, PushProgressEvent, PushStartedEvent } from "./push_event.ts";
export { RequestEvent } from "./request_event.ts";
export {
  DroppedEvent,
  Envelope,
  type EnvelopeOf,
  EventSource,
  LodeEvent,
  SOURCE_EVENTS,
  type SourceEvents,
} from "./envelope.ts";
export {
  EventStream,
  type EventStreamOptions,
  type SubscribeOptions,
  type Subscription,
} from "./event_stream.ts";
export { type DownloadPhase, downloadPhases } from "./download_status.ts";
export {
  isFinished,
  JobArtifact,
  JobArtifactEvent,
  JobEvent,
  JobLogEvent,
  JobProgress,
  JobProgressEvent,
  JobState,
  JobStateEvent,
} from "./job_event.ts";

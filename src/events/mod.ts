/**
 * Typed event unions: the wire format of pulls and status streams.
 * @module
 */
export {
  CompletedEvent,
  DownloadEvent,
  type EventSink,
  FailedEvent,
  FileCompletedEvent,
  FileProgressEvent,
  FileStartedEvent,
  StartedEvent,
  toMb,
  WaitingEvent,
} from "./download_event.ts";
export { Capabilities, type LoadingModelEvent, LoadPhase, StatusEvent } from "./status_event.ts";
export {
  DoneEvent,
  EmbeddingEvent,
  InferenceEvent,
  TokenEvent,
  Usage as InferenceUsage,
} from "./inference_event.ts";

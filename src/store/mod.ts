/**
 * The content-addressed model store.
 * @module
 */
export {
  exists,
  type LockWaitOptions,
  type ManifestInput,
  ModelStore,
  type RemoveResult,
  type SaveManifestOptions,
} from "./model_store.ts";
export { blobHex, type ManifestBlob, manifestBlobs, manifestBlobSizes } from "./manifest_blobs.ts";
export { GGUF_FORMAT, ggufProblem, refuseMalformed, type RefuseMalformedOptions } from "./well_formed.ts";
export { type BlobCheck, checkBlob, verifyModel, type VerifyResult } from "./verify_model.ts";
export { importModelFile, type ImportOptions } from "./import_file.ts";
export { assertModelName, formatBlobRef, isSha256Hex, parseBlobRef, StoreLayout } from "./layout.ts";
export { Manifest, ManifestFile, ManifestSource, parseManifest, serializeManifest } from "./manifest.ts";
export { digestsEqual, sha256Bytes, sha256File } from "./hash.ts";
export { HashingWriter } from "./hashing_writer.ts";
export { BatchedFileWriter, type BatchedFileWriterOptions, type PipeOptions } from "./batched_file_writer.ts";
export { quarantineFile, type QuarantineRecord } from "./quarantine.ts";
export { acquireFileLock, type FileLock } from "./file_lock.ts";
export { writeAll, writeFileAtomic } from "./atomic_write.ts";

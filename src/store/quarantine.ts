/**
 * Quarantine: bytes that failed verification are moved (never deleted) to
 * `locks/quarantine/` with a JSON record saying why, so an operator can inspect
 * them and nothing wrong is ever left at a CAS path.
 * @module
 */
import { joinPath } from "../path.ts";
import type { StoreLayout } from "./layout.ts";
import { writeFileAtomic } from "./atomic_write.ts";

/** Why the bytes were quarantined. */
export interface QuarantineRecord {
  /** The sha256 that was expected (pinned, or recorded in the manifest). */
  expected: string;
  /** The sha256 the bytes actually have. */
  actual: string;
  /** Where the bytes came from: a URL, a file path or `store` for on-disk corruption. */
  source: string;
  /** `gguf_invalid`: the bytes hash right but are not a well-formed GGUF model (see `well_formed.ts`). */
  reason: "digest_mismatch" | "size_mismatch" | "corrupt_on_disk" | "gguf_invalid";
  /** What is wrong with the bytes, when the reason alone does not say (the GGUF reader's message). */
  problem?: string;
  /** The model name involved, when known. */
  name?: string;
}

/** Moves `path` into quarantine and writes `<file>.json` beside it. Returns the new location. */
export async function quarantineFile(
  layout: StoreLayout,
  path: string,
  record: QuarantineRecord,
): Promise<{ path: string; recordPath: string }> {
  await Deno.mkdir(layout.quarantineDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const base = joinPath(
    layout.quarantineDir,
    `${record.actual.slice(0, 16)}-${stamp}-${crypto.randomUUID().slice(0, 8)}`,
  );
  const target = `${base}.data`;
  await Deno.rename(path, target);
  const recordPath = `${base}.json`;
  const full = { ...record, original_path: path, quarantined_at: new Date().toISOString() };
  await writeFileAtomic(recordPath, JSON.stringify(full, null, 2) + "\n");
  return { path: target, recordPath };
}

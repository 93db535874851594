/**
 * {@link Backend.probe} for GGUF backends: whether a file is a model a
 * GGUF runtime can be asked to load, from lode's bounded header reader alone
 * (no runtime started, only the header read). Shared by the llama.cpp backend
 * and any plugin backend that runs GGUF files.
 *
 * @example
 * ```ts
 * import { probeGguf } from "./gguf_probe.ts";
 * const p = await probeGguf("tests/fixtures/stories260K.gguf");
 * console.log(p); // { ok: true, format: "gguf", architecture: "llama" }
 * ```
 * @module
 */
import { readGgufHeader } from "../gguf/read_header.ts";
import { summarizeGguf } from "../gguf/summary.ts";
import type { ProbeResult } from "./backend.ts";

/**
 * Probes `path`: `{ ok: true, format: "gguf", architecture }` for a well-formed GGUF model (the first
 * shard of a split one), else `{ ok: false, reason }` — never rejects.
 *
 * @example
 * ```ts
 * import { probeGguf } from "./gguf_probe.ts";
 * const p = await probeGguf("README.md");
 * if (!p.ok) console.error(p.reason); // README.md: not a GGUF file (magic …)
 * ```
 */
export async function probeGguf(path: string): Promise<ProbeResult> {
  try {
    const header = await readGgufHeader(path);
    const summary = summarizeGguf(header);
    const splitNo = Number(header.metadata.get("split.no")?.value ?? 0);
    if (splitNo > 0) {
      return {
        ok: false,
        reason: `${path} is shard ${
          splitNo + 1
        } of ${summary.splitCount} of a split model; load the first shard`,
      };
    }
    if (summary.architecture === null) return { ok: false, reason: `${path} has no general.architecture` };
    return { ok: true, format: "gguf", architecture: summary.architecture };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

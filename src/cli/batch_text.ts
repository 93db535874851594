/**
 * `lode batch` for people: the progress line (requests answered of the input's, the failed ones, generated
 * tokens per second and the time left; redrawn in place on a terminal, never with `--json` or `--quiet`) and
 * the summary of a finished batch.
 * @module
 */
import type { JobProgress } from "../events/job_event.ts";
import type { CommandContext } from "./context.ts";

/** A batch job's summary (its result). */
export interface BatchResultText {
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  generated_tokens: number;
  tokens_per_second: number;
  elapsed_ms: number;
  output: string;
  errors: string;
  /** Tokens of the answered requests (OpenAI's batch `usage`); absent in a summary written before it was kept. */
  usage?: { input_tokens: number; output_tokens: number; total_tokens: number };
}

/** The progress line of `p`. */
export function batchProgressLine(p: JobProgress): string {
  const parts = [`${p.done}/${p.total ?? "?"} requests`];
  if ((p.failed ?? 0) > 0) parts.push(`${p.failed} failed`);
  if (p.tokens_per_second !== undefined && p.tokens_per_second > 0) {
    parts.push(`${p.tokens_per_second.toFixed(1)} tok/s`);
  }
  if (p.eta_ms !== undefined && p.eta_ms !== null && p.done !== p.total) {
    parts.push(`ETA ${duration(p.eta_ms)}`);
  }
  return parts.join(" · ");
}

/** The lines of a finished batch. */
export function batchSummaryLines(r: BatchResultText): string[] {
  const ran = r.total - r.skipped;
  const lines: string[] = [
    `${r.succeeded} answered, ${r.failed} failed of ${r.total} requests` +
    (r.skipped > 0 ? ` (${r.skipped} answered before, ${ran} now)` : "") +
    (ran > 0 ? ` in ${duration(r.elapsed_ms)}, ${r.tokens_per_second.toFixed(1)} tok/s` : ""),
  ];
  if (r.usage !== undefined) {
    const u = r.usage;
    lines.push(`  tokens  ${u.input_tokens} in, ${u.output_tokens} out, ${u.total_tokens} total`);
  }
  lines.push(`  output  ${r.output}`);
  if (r.failed > 0) lines.push(`  errors  ${r.errors}`);
  return lines;
}

/** Shows progress events on stderr when it is a terminal (not with `--json` or `--quiet`); returns the stop. */
export function batchProgressRenderer(ctx: CommandContext): { show(p: JobProgress): void; stop(): void } {
  const live = ctx.output.stderrIsTty && !ctx.output.json && !ctx.output.quiet;
  let shown = false;
  return {
    show(p) {
      if (!live) return;
      ctx.output.stderr(`\r\x1b[2K${batchProgressLine(p)}`);
      shown = true;
    },
    stop() {
      if (shown) ctx.output.stderr("\r\x1b[2K");
      shown = false;
    },
  };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * The `--verbose` lines of `lode run` and `lode chat`: how the model was
 * loaded, then per generation the prompt's size and speed (prompt tokens over
 * the time to the first token) and the decode speed.
 *
 * @example
 * ```ts
 * import { usageLines } from "./usage_report.ts";
 * usageLines({ text: "", stopReason: "eos", usage: { promptTokens: 6, generatedTokens: 40, loadMs: 90,
 *   timeToFirstTokenMs: 3, totalMs: 50, tokensPerSecond: 830 } });
 * // ["prompt: 6 tokens in 3.0 ms (2000 tokens/s)", "generated: 40 tokens at 830.0 tokens/s (end: eos, 50 ms)"]
 * ```
 * @module
 */
import type { Capabilities, GenerateResult, SessionInfo } from "../inference/backend.ts";

/**
 * One line about a loaded session: load time, architecture, context, threads,
 * accelerator and whether answers go through a chat template.
 */
export function sessionLine(info: SessionInfo, capabilities: Capabilities, mode: string): string {
  const threads = `${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  const gpu = capabilities.gpu_layers > 0 ? `, ${capabilities.gpu_layers} GPU layers` : "";
  return `load: ${info.loadMs.toFixed(0)} ms (${info.architecture}, n_ctx ${info.contextSize}, ${threads}, ` +
    `${capabilities.accelerator}${gpu}; ${mode})`;
}

/**
 * Two lines about one generation: prompt tokens and prompt speed, generated
 * tokens and decode speed.
 */
export function usageLines(result: GenerateResult): string[] {
  const u = result.usage;
  const ttft = u.timeToFirstTokenMs;
  const promptSpeed = ttft !== null && ttft > 0
    ? ` (${(u.promptTokens / (ttft / 1000)).toFixed(0)} tokens/s)`
    : "";
  const prompt = ttft === null
    ? `prompt: ${u.promptTokens} tokens (no token generated)`
    : `prompt: ${u.promptTokens} tokens in ${ttft.toFixed(1)} ms${promptSpeed}`;
  const generated = `generated: ${u.generatedTokens} tokens at ${u.tokensPerSecond.toFixed(1)} tokens/s ` +
    `(end: ${result.stopReason}, ${u.totalMs.toFixed(0)} ms)`;
  return [prompt, generated];
}

/**
 * `lode run NAME|REF [PROMPT]`: pull the model when it is missing, load it and
 * stream the continuation (or, later, the chat answer) to stdout.
 * @module
 */
import { LodeError } from "../../errors.ts";
import { parseRef } from "../../registry/mod.ts";
import type { CommandContext } from "../context.ts";
import type { ParsedArgv } from "../args.ts";
import { pullRef } from "./pull.ts";

interface RunFlags {
  maxTokens: string;
  temperature: string;
  seed?: string;
  threads?: string;
  ctxSize?: string;
  verbose?: boolean;
  name?: string;
  sha256?: string;
}

function number(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < 0) {
    throw new LodeError(
      "USAGE",
      `${flag} must be a non-negative ${integer ? "integer" : "number"}, got "${value}"`,
    );
  }
  return n;
}

/** The model file a reference names: a stored model, a URL (pulled first) or a local `file:`. */
async function modelPath(ctx: CommandContext, ref: string, flags: RunFlags): Promise<string> {
  const parsed = parseRef(ref);
  if (parsed.kind === "file") return parsed.path;
  if (parsed.kind === "name") return await (await ctx.store()).modelPathOf(parsed.name);
  const { path } = await pullRef(ctx, ref, { name: flags.name, sha256: flags.sha256 });
  await ctx.endProgress();
  return path;
}

async function readPrompt(arg: string | undefined): Promise<string> {
  if (arg !== undefined) return arg;
  if (Deno.stdin.isTerminal()) throw new LodeError("USAGE", "give a prompt as an argument or on stdin");
  return (await new Response(Deno.stdin.readable).text()).replace(/\n$/, "");
}

/** `lode run`. */
export async function run(ctx: CommandContext, parsed: ParsedArgv): Promise<void> {
  const flags = parsed.options as unknown as RunFlags;
  const ref = parsed.args.model as string;
  const promptArg = parsed.args.prompt as string | undefined;
  const maxTokens = number("--max-tokens", flags.maxTokens, true);
  const temperature = number("--temperature", flags.temperature, false);
  const seed = number("--seed", flags.seed, true);
  const threads = number("--threads", flags.threads, true);
  const contextSize = number("--ctx-size", flags.ctxSize, true);
  const path = await modelPath(ctx, ref, flags);
  const prompt = await readPrompt(promptArg);
  const { createLlamaCppBackend } = await import("../../inference/mod.ts");
  const backend = createLlamaCppBackend();
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const session = await backend.load(path, {
      threads,
      contextSize,
      signal: abort.signal,
      onStatus: (e) => ctx.output.event(e),
    });
    const generation = session.generate(prompt, { maxTokens, temperature, seed, signal: abort.signal });
    for await (const text of generation) {
      if (ctx.output.json) ctx.output.event({ event: "token", text });
      else ctx.output.text(text);
    }
    const result = await generation.result;
    if (!ctx.output.json) ctx.output.text("\n");
    ctx.output.event({ event: "done", stop_reason: result.stopReason, usage: result.usage });
    if (flags.verbose) {
      const u = result.usage;
      ctx.output.note(
        `load ${
          u.loadMs.toFixed(0)
        } ms | prompt ${u.promptTokens} tokens | generated ${u.generatedTokens} tokens` +
          ` | first token ${u.timeToFirstTokenMs?.toFixed(1) ?? "-"} ms | ${
            u.tokensPerSecond.toFixed(1)
          } tokens/s`,
      );
    }
    await session.close();
    if (result.stopReason === "abort") throw new LodeError("INTERRUPTED", "generation stopped by Ctrl-C");
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    await backend.close();
  }
}

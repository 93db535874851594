/**
 * What a conformance suite reports: one {@link Check} per property of the contract, passed or failed
 * with the reason, and the helpers the suites share. A suite never throws for a plugin's failure: it
 * records it, so `lode plugin test` shows every check.
 *
 * @example
 * ```ts
 * import { check } from "./check.ts";
 * const result = await check("registry.resolve answers", async () => {});
 * // result: { name: "registry.resolve answers", ok: true }
 * ```
 * @module
 */
import { LodeError } from "../../errors.ts";
import type { CallContext } from "../api.ts";

/** One property of the contract, checked. */
export interface Check {
  /** The hook group: `hello`, `registry`, `sink`, `backend`. */
  suite: string;
  name: string;
  ok: boolean;
  /** Why it failed. */
  message?: string;
}

/** Runs `body`; a throw is a failed check carrying its message. */
export async function check(name: string, body: () => Promise<void>, suite = ""): Promise<Check> {
  try {
    await body();
    return { suite, name, ok: true };
  } catch (e) {
    const message = e instanceof LodeError ? `${e.code}: ${e.message}` : (e as Error).message ?? String(e);
    return { suite, name, ok: false, message };
  }
}

/** Fails unless `cond`. */
export function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** A call context that aborts with `controller`. */
export function callContext(controller = new AbortController()): CallContext {
  return { signal: controller.signal, progress: () => {} };
}

/** The code of what `run` threw, or null when it returned. */
export async function codeOf(run: () => Promise<unknown>): Promise<string | null> {
  try {
    await run();
    return null;
  } catch (e) {
    return e instanceof LodeError ? e.code : "UNTYPED";
  }
}

/** Codes that say the plugin broke the protocol or stopped answering, not that it refused the input. */
export const FAULT_CODES: readonly string[] = [
  "PLUGIN_PROTOCOL",
  "PLUGIN_TIMEOUT",
  "PLUGIN_DISABLED",
  "UNTYPED",
];

/**
 * A second process for lock tests: takes the exclusive lock at `Deno.args[0]` the way lode does,
 * prints `held`, and keeps it until its stdin closes (or it is killed).
 *
 * @example
 * ```ts
 * const holder = await holdLock(`${store}/locks/sha256-${hex}.lock`);
 * await holder.release();
 * ```
 * @module
 */
import { acquireFileLock } from "../../src/store/file_lock.ts";

/** A lock held by a child process. */
export interface HeldLock {
  release(): Promise<void>;
}

/** Starts a child process that holds the lock at `path`; resolves once it does. */
export async function holdLock(path: string): Promise<HeldLock> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, path],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("held")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`lock holder exited before taking ${path}`);
    seen += value;
  }
  return {
    async release() {
      await child.stdin.close();
      await reader.cancel();
      await child.status;
    },
  };
}

if (import.meta.main) {
  await using _lock = await acquireFileLock(Deno.args[0]!, { name: Deno.args[0]! });
  await Deno.stdout.write(new TextEncoder().encode("held\n"));
  for await (const _ of Deno.stdin.readable) { /* hold until stdin closes */ }
}

/**
 * Runs the real `lode` CLI (`deno run -A main.ts …`) as a child process, for
 * tests that need real processes: exit codes, NDJSON on stdout, locks held
 * across processes, SIGKILL.
 *
 * @example
 * ```ts
 * const r = await runLode(["ls", "--json"], { store });
 * assertEquals(r.code, 0);
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { DownloadEvent, InferenceEvent, StatusLine, StoreEvent } from "../../src/events/mod.ts";

/** Absolute path of main.ts. */
export const MAIN_TS: string = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** Options of {@link runLode} and {@link spawnLode}. */
export interface LodeProcessOptions {
  /** Store directory (passed as MODELS_HOME). */
  store: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Text for stdin (default: no stdin). */
  input?: string;
  /** Working directory (default: this process's). */
  cwd?: string;
}

/** The outcome of a finished lode process. */
export interface LodeRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as NDJSON (lines that are not JSON are skipped). */
  events: Record<string, unknown>[];
}

function command(args: string[], options: LodeProcessOptions): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, ...args],
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    env: {
      MODELS_HOME: options.store,
      NO_COLOR: "1",
      XDG_CONFIG_HOME: `${options.store}/.no-config`,
      ...options.env,
    },
    stdin: options.input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Tags of the store commands' events (`gc`, `export`, `import`, `verify`, `ls`, `rm`, `path`, `error`). */
const STORE_TAGS: ReadonlySet<unknown> = new Set(StoreEvent.options.map((o) => o.shape.event.value));

/** Tags of `lode run`, `chat` and `embed` events (`token`, `done`, `embedding`). */
const INFERENCE_TAGS: ReadonlySet<unknown> = new Set(InferenceEvent.options.map((o) => o.shape.event.value));

/** Parses NDJSON output into objects; download, store, inference and status events are checked against their schemas. */
export function parseEvents(stdout: string): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(line);
    } catch {
      continue; // text output that starts with "{" (e.g. `lode run --json-schema` without --json)
    }
    const known = DownloadEvent.options.some((o) => o.shape.event.value === event.event);
    if (known) DownloadEvent.parse(event);
    if (STORE_TAGS.has(event.event)) StoreEvent.parse(event);
    if (INFERENCE_TAGS.has(event.event)) InferenceEvent.parse(event);
    if (event.event === "status") StatusLine.parse(event);
    events.push(event);
  }
  return events;
}

/**
 * Every event of a store command's NDJSON output (`lode gc`, `export`, `import`, `verify`, `ls`, `rm`,
 * `path`, and `error`), each parsed with {@link StoreEvent}: an unknown event, a missing, renamed or extra
 * field (at any depth) or a wrong type fails. Give it `r.stdout` (or the stderr of `lode export -`).
 */
export function storeEvents(ndjson: string): StoreEvent[] {
  const lines = ndjson.split("\n").filter((l) => l.trim().startsWith("{"));
  assert.ok(lines.length > 0, `no NDJSON events in: ${ndjson}`);
  return lines.map((line) => {
    const event = JSON.parse(line);
    const parsed = StoreEvent.parse(event);
    // zod drops keys its schema does not name: a field the schema does not know shows up here.
    assert.deepEqual(parsed, event, `${line} has fields src/events/store_event.ts does not declare`);
    return parsed;
  });
}

/** Runs lode to completion. */
export async function runLode(args: string[], options: LodeProcessOptions): Promise<LodeRun> {
  const child = command(args, options).spawn();
  if (options.input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.input));
    await writer.close();
  }
  return await finish(child);
}

/** Starts lode and returns the child (the caller reads or kills it). */
export function spawnLode(args: string[], options: LodeProcessOptions): Deno.ChildProcess {
  return command(args, options).spawn();
}

/** Options of {@link runLodeClosing}. */
export interface ClosingOptions extends LodeProcessOptions {
  /** The output whose reader goes away. */
  close: "stdout" | "stderr";
  /** Read that output until this says enough was read (given all text read so far); absent: close it at once. */
  until?: (read: string) => boolean;
}

/** A finished lode process whose reader of one output went away early. */
export interface ClosingRun {
  code: number;
  /** What was read of the closed output before closing it. */
  read: string;
  /** All of the other output. */
  other: string;
}

/**
 * Runs lode with `close` (stdout or stderr) a pipe whose read end is closed early: at once, or after
 * reading until `until` is satisfied (as `lode … | head -n 2` does).
 */
export async function runLodeClosing(args: string[], options: ClosingOptions): Promise<ClosingRun> {
  const child = command(args, options).spawn();
  const [closing, other] = options.close === "stdout"
    ? [child.stdout, child.stderr]
    : [child.stderr, child.stdout];
  const otherText = new Response(other).text();
  let read = "";
  if (options.until) {
    const reader = closing.getReader();
    const decoder = new TextDecoder();
    while (!options.until(read)) {
      const chunk = await reader.read();
      if (chunk.done) break;
      read += decoder.decode(chunk.value, { stream: true });
    }
    await reader.cancel();
  } else {
    await closing.cancel();
  }
  const status = await child.status;
  return { code: status.code, read, other: await otherText };
}

/** Collects a spawned child's output. */
export async function finish(child: Deno.ChildProcess): Promise<LodeRun> {
  const [stdout, stderr, status] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.status,
  ]);
  return { code: status.code, stdout, stderr, events: parseEvents(stdout) };
}

/** Every file under `dir`, relative, sorted (for "the store is exactly as it was" checks). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, prefix: string) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory) await walk(`${d}/${e.name}`, rel);
      else out.push(rel);
    }
  }
  await walk(dir, "");
  return out.sort();
}

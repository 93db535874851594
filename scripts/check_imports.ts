/**
 * `deno run --allow-read scripts/check_imports.ts` (part of `deno task ok`, and run by its test in
 * `deno task test`): checks that the imports of `main.ts` and `src/` (tests excluded) point one way
 * between rooms, that no module imports itself through a circle of imports, and that a folder's
 * `mod.ts` is used as docs/architecture.md says. Prints each problem and exits 1 when there is one;
 * `--graph` prints the arrows between rooms instead.
 *
 * The rooms, from the top down; a module imports only its own room and the rooms below it:
 *
 * | layer | rooms                                                                        |
 * | ----- | ---------------------------------------------------------------------------- |
 * | 0     | `main.ts`                                                                    |
 * | 1     | `src/cli` (commands above the shared CLI modules)                            |
 * | 2     | `src/daemon` (server and openai, then router, then runner, then wire)        |
 * | 3     | `src/jobs`, `src/inference`, `src/lock`                                      |
 * | 4     | `src/registry`, `src/plugin`                                                 |
 * | 5     | `src/download`                                                               |
 * | 6     | `src/store`                                                                  |
 * | 7     | `src/gguf`                                                                   |
 * | 8     | `src/config.ts`, `src/config_env.ts`                                         |
 * | 9     | `src/schema` (input that breaks its schema, as a typed error)                |
 * | 10    | `src/errors.ts`, `src/events`, `src/path.ts`, `src/version.ts`               |
 *
 * The built-in plugins (`plugins/`, the room `plugins`) stand beside the layers: `src/cli` may import
 * them, and they import only {@link PLUGIN_IMPORTS} (and each other's modules). The SDK and the examples
 * (`plugins/sdk/`, `plugins/examples/`), which run out of process, import of `src/` only the plugin contract
 * and the events.
 *
 * Rooms of one layer do not import each other. Only `src/cli/program.ts` (the command table)
 * imports a command, and a command imports no other command. No module in `src/` imports a
 * `mod.ts` (a folder's surface for code outside `src/`), and a `mod.ts` only re-exports its own
 * folder's modules.
 *
 * @example
 * ```ts
 * import { checkImports, parseImports } from "./check_imports.ts";
 * const imports = parseImports("src/store/gc.ts", 'import { cli } from "../cli/app.ts";');
 * checkImports(imports); // [{ kind: "direction", … "src/store/gc.ts:1 imports src/cli/app.ts …" }]
 * ```
 * @module
 */

/** One import of one module. */
export interface Import {
  /** The importing module, relative to the repository root (`src/store/gc.ts`). */
  from: string;
  /** The imported module, relative to the repository root. */
  to: string;
  /** 1-based line of the import. */
  line: number;
  /** `import type`/`export type`, or every name imported with `type`. */
  typeOnly: boolean;
  /** `import("…")`. */
  dynamic: boolean;
}

/** What {@link checkImports} found wrong. */
export interface Problem {
  kind: "direction" | "sideways" | "command" | "cycle" | "mod" | "plugin";
  message: string;
}

/** The rooms by layer, from the top down (see the module doc). */
export const LAYERS: readonly (readonly string[])[] = [
  ["main"],
  ["cli"],
  ["daemon"],
  ["jobs", "inference", "lock"],
  ["registry", "plugin"],
  ["download"],
  ["store"],
  ["gguf"],
  ["config"],
  ["schema"],
  ["errors", "events", "path", "version"],
];

/** The rooms of `src/` a module of `plugins/` may import. */
export const PLUGIN_IMPORTS: readonly string[] = ["plugin", "events", "download", "errors", "schema", "path"];

/** The rooms inside a room, from the top down; a room not listed is the room's own top level. */
const SUB_LAYERS: Record<string, readonly (readonly string[])[]> = {
  cli: [["commands"], [""]],
  daemon: [["server", "openai", "batch"], ["jobs"], ["router"], ["runner"], ["wire"]],
};

/**
 * What the SDK and the example plugins (they run out of process, under `deno run`) may import from `src/`:
 * the plugin contract and the events.
 */
const PLUGIN_REACH = ["src/plugin/api.ts", "src/plugin/sink_runner.ts", "src/events/"];
const OUT_OF_PROCESS = ["plugins/sdk/", "plugins/examples/"];

/** The command table: the one module that imports commands (lazily, one per command). */
const COMMAND_TABLE = "src/cli/program.ts";

const STATIC_IMPORT =
  /^(?:import|export)(\s+type)?\s+(?:([^;"'`]*?)\s+from\s+)?["']([^"']+)["'](?:\s+with\s*\{[^}]*\})?;?/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Resolves a relative specifier against the importing file; null for a bare or remote one. */
export function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return null;
  const parts = from.split("/").slice(0, -1);
  for (const segment of specifier.split("/")) {
    if (segment === ".") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  return parts.join("/");
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * The relative imports of one module: static ones (`import`/`export … from`, which `deno fmt` starts
 * at the beginning of a line) and `import("…")` with a literal specifier outside comments.
 */
export function parseImports(file: string, text: string): Import[] {
  const found: Import[] = [];
  for (const m of text.matchAll(STATIC_IMPORT)) {
    const to = resolveSpecifier(file, m[3]!);
    if (to === null) continue;
    const names = m[2]?.trim() ?? "";
    const everyNameTyped = /^\{[\s\S]*\}$/.test(names) &&
      names.slice(1, -1).split(",").map((n) => n.trim()).filter((n) => n !== "")
        .every((n) => n.startsWith("type "));
    found.push({
      from: file,
      to,
      line: lineAt(text, m.index!),
      typeOnly: m[1] !== undefined || (names !== "" && everyNameTyped),
      dynamic: false,
    });
  }
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    const code = line.trimStart();
    if (code.startsWith("*") || code.startsWith("//") || code.startsWith("/*")) continue;
    for (const m of line.matchAll(DYNAMIC_IMPORT)) {
      const to = resolveSpecifier(file, m[1]!);
      if (to !== null) found.push({ from: file, to, line: i + 1, typeOnly: false, dynamic: true });
    }
  }
  return found;
}

/**
 * The room of a module: `main`, a folder of `src/` (`store`), a folder inside `src/cli` or
 * `src/daemon` (`daemon/router`, `cli/commands`; `cli` for the shared CLI modules), or a module
 * directly in `src/` by its name (`errors`); null outside `main.ts` and `src/`.
 */
export function roomOf(file: string): string | null {
  if (file === "main.ts") return "main";
  const parts = file.split("/");
  if (parts[0] === "plugins" && parts.length > 1) return "plugins";
  if (parts[0] !== "src" || parts.length < 2) return null;
  // A module directly in src/ is the room of its name up to an underscore (config_env.ts: config).
  if (parts.length === 2) return parts[1]!.replace(/\.ts$/, "").replace(/_.*$/, "");
  if (parts[1]! in SUB_LAYERS && parts.length > 3) return `${parts[1]}/${parts[2]}`;
  return parts[1]!;
}

function layerOf(room: string): number {
  const top = room.split("/")[0]!;
  const layer = LAYERS.findIndex((rooms) => rooms.includes(top));
  return layer === -1 ? LAYERS.length : layer;
}

function subLayerOf(room: string): number {
  const [top, sub = ""] = room.split("/");
  const layers = SUB_LAYERS[top!];
  if (layers === undefined) return 0;
  const layer = layers.findIndex((rooms) => rooms.includes(sub));
  return layer === -1 ? layers.length : layer;
}

function where(i: Import): string {
  return `${i.from}:${i.line}`;
}

/** The problems among `imports` (of `main.ts` and `src/`, tests excluded). */
export function checkImports(imports: readonly Import[]): Problem[] {
  const problems: Problem[] = [];
  for (const i of imports) {
    if (OUT_OF_PROCESS.some((dir) => i.from.startsWith(dir)) && i.to.startsWith("src/")) {
      if (
        !PLUGIN_REACH.some((allowed) =>
          i.to === allowed || (allowed.endsWith("/") && i.to.startsWith(allowed))
        )
      ) {
        problems.push({
          kind: "plugin",
          message: `${where(i)} imports ${i.to}: a plugin imports of src/ only ${PLUGIN_REACH.join(", ")}`,
        });
      }
      continue;
    }
    const from = roomOf(i.from);
    const to = roomOf(i.to);
    if (from === null || to === null) continue;
    if (i.to.endsWith("/mod.ts") && i.from.startsWith("src/")) {
      problems.push({
        kind: "mod",
        message: `${where(i)} imports ${i.to}: inside src/, import the module that defines the name`,
      });
    }
    if (i.from.endsWith("/mod.ts")) {
      const folder = i.from.slice(0, -"mod.ts".length);
      if (!i.to.startsWith(folder) || i.to.slice(folder.length).includes("/")) {
        problems.push({
          kind: "mod",
          message: `${where(i)} re-exports ${i.to}: a mod.ts re-exports only its own folder's modules`,
        });
      }
    }
    if (from === "plugins" || to === "plugins") {
      if (from === "plugins" && to !== "plugins" && !PLUGIN_IMPORTS.includes(to)) {
        problems.push({
          kind: "direction",
          message: `${where(i)} imports ${i.to}: a plugin imports only src/{${PLUGIN_IMPORTS.join(",")}}`,
        });
      }
      if (to === "plugins" && from !== "plugins" && from.split("/")[0] !== "cli") {
        problems.push({
          kind: "direction",
          message: `${where(i)} imports ${i.to}: only src/cli imports plugins/`,
        });
      }
      continue;
    }
    if (to === "cli/commands" && i.from === COMMAND_TABLE) continue;
    if (to === "cli/commands" && from === to && i.from !== i.to) {
      problems.push({
        kind: "command",
        message: `${where(i)} imports the command ${i.to}: only ${COMMAND_TABLE} imports commands; ` +
          "move what they share into a module of src/cli (or a lower room)",
      });
      continue;
    }
    if (from === to) continue;
    const [fromLayer, toLayer] = [layerOf(from), layerOf(to)];
    if (fromLayer === toLayer && from.split("/")[0] === to.split("/")[0]) {
      if (subLayerOf(from) < subLayerOf(to) || from === "cli/commands") continue;
      if (subLayerOf(from) === subLayerOf(to)) continue;
    } else if (fromLayer < toLayer) continue;
    problems.push({
      kind: fromLayer === toLayer && from.split("/")[0] !== to.split("/")[0] ? "sideways" : "direction",
      message: `${where(i)} imports ${i.to}: ${from} must not import ${to} (arrows point ` +
        `${LAYERS.map((rooms) => rooms.join("/")).join(" → ")})`,
    });
  }
  for (const cycle of findCycles(imports)) {
    problems.push({ kind: "cycle", message: `import cycle among ${cycle.join(", ")}` });
  }
  return problems;
}

/** The circles of imports among modules (strongly connected components of more than one module). */
export function findCycles(imports: readonly Import[]): string[][] {
  const next = new Map<string, string[]>();
  for (const i of imports) {
    if (!next.has(i.from)) next.set(i.from, []);
    if (i.from === i.to) continue;
    next.get(i.from)!.push(i.to);
  }
  // Tarjan's algorithm, iterative.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  for (const start of [...next.keys()].sort()) {
    if (index.has(start)) continue;
    const work: { node: string; edge: number }[] = [{ node: start, edge: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const edges = next.get(top.node) ?? [];
      if (top.edge < edges.length) {
        const to = edges[top.edge++]!;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        let node: string;
        do {
          node = stack.pop()!;
          onStack.delete(node);
          component.push(node);
        } while (node !== top.node);
        if (component.length > 1) cycles.push(component.sort());
      }
    }
  }
  return cycles;
}

/** The arrows between rooms: for each room, the rooms it imports and how many imports each. */
export function roomGraph(imports: readonly Import[]): Map<string, Map<string, number>> {
  const graph = new Map<string, Map<string, number>>();
  for (const i of imports) {
    const [from, to] = [roomOf(i.from), roomOf(i.to)];
    if (from === null || to === null || from === to) continue;
    if (!graph.has(from)) graph.set(from, new Map());
    const targets = graph.get(from)!;
    targets.set(to, (targets.get(to) ?? 0) + 1);
  }
  return graph;
}

/** The modules of `main.ts`, `src/` and `plugins/` (tests excluded), relative to `root`. */
export async function sourceModules(root: string): Promise<string[]> {
  const files = ["main.ts"];
  const walk = async (dir: string): Promise<void> => {
    const exists = await Deno.stat(`${root}/${dir}`).then(() => true, () => false);
    if (!exists) return;
    for await (const entry of Deno.readDir(`${root}/${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (path.endsWith(".ts") && !path.endsWith("_test.ts")) files.push(path);
    }
  };
  await walk("src");
  await walk("plugins");
  return files.sort();
}

/** Every import of every module {@link sourceModules} lists. */
export async function readImports(root: string): Promise<Import[]> {
  const imports: Import[] = [];
  for (const file of await sourceModules(root)) {
    imports.push(...parseImports(file, await Deno.readTextFile(`${root}/${file}`)));
  }
  return imports;
}

/** The arrows of {@link roomGraph}, one room a row from the top layer down: the room and what it imports. */
export function graphRows(imports: readonly Import[]): [string, string[]][] {
  const graph = roomGraph(imports);
  const order = (room: string) => layerOf(room) * 100 + subLayerOf(room);
  const byOrder = (a: string, b: string) => order(a) - order(b) || a.localeCompare(b);
  return [...graph.keys()].sort(byOrder).map((from) => [from, [...graph.get(from)!.keys()].sort(byOrder)]);
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const imports = await readImports(root);
  if (Deno.args.includes("--graph")) {
    for (const [from, targets] of graphRows(imports)) console.log(`${from} → ${targets.join(", ")}`);
    Deno.exit(0);
  }
  const problems = checkImports(imports);
  for (const p of problems) console.error(`${p.kind}: ${p.message}`);
  if (problems.length > 0) {
    console.error(`${problems.length} import problem(s); see docs/architecture.md`);
    Deno.exit(1);
  }
  console.log(
    `imports ok (${imports.length} imports of ${new Set(imports.map((i) => i.from)).size} modules)`,
  );
}

import assert from "node:assert/strict";
import {
  checkImports,
  findCycles,
  graphRows,
  type Import,
  parseImports,
  readImports,
  roomOf,
} from "./check_imports.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function imp(from: string, to: string, extra: Partial<Import> = {}): Import {
  return { from, to, line: 1, typeOnly: false, dynamic: false, ...extra };
}

Deno.test("parseImports: static, type-only, multi-line, re-exports and import(); not comments or packages", () => {
  const text = [
    "/**",
    " * @example",
    " * ```ts",
    ' * import { x } from "../cli/app.ts";',
    ' * const m = await import("../daemon/wire/client.ts");',
    " * ```",
    " */",
    'import { LodeError } from "../errors.ts";',
    'import type { Manifest } from "./manifest.ts";',
    'import { type A, type B } from "./types.ts";',
    "import {",
    "  one,",
    "  type Two,",
    '} from "../path.ts";',
    'export { three } from "./three.ts";',
    'export type { Four } from "./four.ts";',
    'import { z } from "zod";',
    'import process from "node:process";',
    "async function f() {",
    '  // const lazy = await import("../cli/program.ts");',
    '  const lazy = await import("../download/http_get.ts");',
    "}",
  ].join("\n");
  const found = parseImports("src/store/gc.ts", text);
  assert.deepEqual(found.map((i) => [i.to, i.line, i.typeOnly, i.dynamic]), [
    ["src/errors.ts", 8, false, false],
    ["src/store/manifest.ts", 9, true, false],
    ["src/store/types.ts", 10, true, false],
    ["src/path.ts", 11, false, false],
    ["src/store/three.ts", 15, false, false],
    ["src/store/four.ts", 16, true, false],
    ["src/download/http_get.ts", 21, false, true],
  ]);
});

Deno.test("roomOf: folders of src/, the rooms inside cli and daemon, modules directly in src/", () => {
  assert.equal(roomOf("main.ts"), "main");
  assert.equal(roomOf("src/store/gc.ts"), "store");
  assert.equal(roomOf("src/daemon/router/model_router.ts"), "daemon/router");
  assert.equal(roomOf("src/cli/commands/pull.ts"), "cli/commands");
  assert.equal(roomOf("src/cli/app.ts"), "cli");
  assert.equal(roomOf("src/errors.ts"), "errors");
  assert.equal(roomOf("src/config_env.ts"), "config");
  assert.equal(roomOf("scripts/demo.ts"), null);
});

Deno.test("checkImports: downward arrows pass; upward, sideways and command-to-command ones do not", () => {
  assert.deepEqual(
    checkImports([
      imp("main.ts", "src/cli/app.ts"),
      imp("src/cli/app.ts", "src/config.ts"),
      imp("src/cli/program.ts", "src/cli/commands/pull.ts", { dynamic: true }),
      imp("src/cli/commands/pull.ts", "src/cli/pull_ref.ts"),
      imp("src/daemon/server/daemon.ts", "src/daemon/openai/openai_http.ts"),
      imp("src/daemon/openai/openai_http.ts", "src/daemon/server/request_handler.ts"),
      imp("src/daemon/router/model_router.ts", "src/daemon/runner/runner_session.ts"),
      imp("src/registry/pull_plan.ts", "src/download/pull_model.ts"),
      imp("src/store/gc.ts", "src/events/store_event.ts"),
      imp("src/config.ts", "src/config_env.ts"),
      imp("src/config_env.ts", "src/errors.ts"),
    ]),
    [],
  );
  const kinds = (imports: Import[]) => checkImports(imports).map((p) => p.kind);
  assert.deepEqual(kinds([imp("src/store/gc.ts", "src/cli/app.ts")]), ["direction"]);
  assert.deepEqual(kinds([imp("src/config.ts", "src/download/proxy.ts")]), ["direction"]);
  assert.deepEqual(kinds([imp("src/errors.ts", "src/config.ts")]), ["direction"]);
  assert.deepEqual(kinds([imp("src/daemon/wire/client.ts", "src/daemon/router/router.ts")]), ["direction"]);
  assert.deepEqual(kinds([imp("src/inference/backend.ts", "src/lock/sync.ts")]), ["sideways"]);
  assert.deepEqual(kinds([imp("src/cli/model_session.ts", "src/cli/commands/pull.ts")]), ["direction"]);
  assert.deepEqual(kinds([imp("src/cli/commands/lock.ts", "src/cli/commands/pull.ts")]), ["command"]);
  const message = checkImports([imp("src/store/gc.ts", "src/cli/app.ts", { line: 7 })])[0]!.message;
  assert.match(message, /^src\/store\/gc\.ts:7 imports src\/cli\/app\.ts: store must not import cli/);
});

Deno.test("checkImports: src/ imports no mod.ts, a mod.ts re-exports only its own folder; tests are free", () => {
  const kinds = (imports: Import[]) => checkImports(imports).map((p) => p.kind);
  assert.deepEqual(kinds([imp("src/registry/reference.ts", "src/store/mod.ts")]), ["mod"]);
  assert.deepEqual(kinds([imp("src/store/mod.ts", "src/store/layout.ts")]), []);
  assert.deepEqual(kinds([imp("src/store/mod.ts", "src/store/sub/x.ts")]), ["mod"]);
  assert.deepEqual(kinds([imp("src/store/mod.ts", "src/errors.ts")]), ["mod"]);
  assert.deepEqual(kinds([imp("tests/pull_test.ts", "src/events/mod.ts")]), []);
});

Deno.test("checkImports: a plugin imports of src/ only the plugin contract and the events", () => {
  const kinds = (imports: Import[]) => checkImports(imports).map((p) => p.kind);
  assert.deepEqual(kinds([imp("plugins/sdk/mod.ts", "src/plugin/api.ts")]), []);
  assert.deepEqual(kinds([imp("plugins/sdk/mod.ts", "src/events/envelope.ts")]), []);
  assert.deepEqual(kinds([imp("plugins/webhook_sink/sink.ts", "src/plugin/sink_runner.ts")]), []);
  assert.deepEqual(kinds([imp("plugins/examples/mirror/main.ts", "plugins/sdk/mod.ts")]), []);
  assert.deepEqual(kinds([imp("plugins/sdk/mod.ts", "src/plugin/plugin_process.ts")]), ["plugin"]);
  assert.deepEqual(kinds([imp("plugins/sdk/mod.ts", "src/registry/registry.ts")]), ["plugin"]);
});

Deno.test("findCycles: every circle, type-only ones too, once each", () => {
  assert.deepEqual(
    findCycles([
      imp("src/a.ts", "src/b.ts"),
      imp("src/b.ts", "src/a.ts", { typeOnly: true }),
      imp("src/c.ts", "src/d.ts"),
      imp("src/d.ts", "src/e.ts"),
      imp("src/e.ts", "src/c.ts"),
      imp("src/e.ts", "src/f.ts"),
    ]),
    [["src/a.ts", "src/b.ts"], ["src/c.ts", "src/d.ts", "src/e.ts"]],
  );
  assert.deepEqual(
    checkImports([imp("src/store/a.ts", "src/store/b.ts"), imp("src/store/b.ts", "src/store/a.ts")]),
    [
      { kind: "cycle", message: "import cycle among src/store/a.ts, src/store/b.ts" },
    ],
  );
});

Deno.test("lode's own imports point one way, in no circle, and use no mod.ts inside src/", async () => {
  const imports = await readImports(ROOT);
  assert.ok(imports.length > 100, `only ${imports.length} imports found`);
  assert.deepEqual(checkImports(imports).map((p) => p.message), []);
});

Deno.test("docs/architecture.md's table of arrows is the graph the code has", async () => {
  const page = await Deno.readTextFile(`${ROOT}/docs/architecture.md`);
  const table = page.slice(page.indexOf("Today:"));
  const documented = table.split("\n").filter((line) => /^\| `/.test(line)).map((line) => {
    const [room, targets] = line.split("|").slice(1, 3).map((cell) => cell.trim());
    return [room!.replaceAll("`", "").replace(/\.ts$/, ""), targets!.split(", ")];
  });
  assert.deepEqual(documented, graphRows(await readImports(ROOT)));
});

/**
 * `deno run -A scripts/bench_plugins.ts [--runs N] [--size BYTES] [--json]`: what an out-of-process
 * registry adds to a pull. The same small file is pulled by the real CLI (a child process each time,
 * into a fresh store) from an HTTPS origin on 127.0.0.1, alternately through the built-in https registry
 * (`URL#sha256=HEX`) and through the example registry plugin (`mirror:NAME --plugin
 * plugins/examples/mirror_registry`: its process started, both hellos, `registry.resolve` fetching the
 * mirror's index, shutdown). Prints each side's median wall time, the difference and the ratio, and
 * whether the difference is within the budget (`--budget-ms`, default 150); exits 1 when it is not.
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startOrigin } from "../tests/support/origin.ts";
import { makeTestCa } from "../tests/support/test_ca.ts";
import { randomModel } from "../tests/support/engine_world.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../plugins/examples/mirror_registry", import.meta.url));

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "7" },
    size: { type: "string", default: String(256 * 1024) },
    "budget-ms": { type: "string", default: "150" },
    json: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const size = Number(values.size);
const budget = Number(values["budget-ms"]);

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const dir = await Deno.makeTempDir({ prefix: "lode-bench-plugins-" });
try {
  const ca = await makeTestCa(`${dir}/ca`);
  const body = randomModel(size) as Uint8Array<ArrayBuffer>;
  const sha = await sha256(body);
  const index = new TextEncoder().encode(
    JSON.stringify({ models: { bench: { file: "bench.gguf", sha256: sha, size_bytes: size } } }),
  );
  const origin = await startOrigin({
    tls: ca,
    routes: { "/index.json": { body: index }, "/bench.gguf": { body } },
  });
  const env = {
    NO_COLOR: "1",
    XDG_CONFIG_HOME: `${dir}/config`,
    MIRROR_REGISTRY_URLS: `${origin.url}/`,
    DENO_CERT: ca.caCertPath,
  };
  const pull = async (args: string[], n: number): Promise<number> => {
    const started = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--ca-cert", ca.caCertPath, "--store", `${dir}/store-${n}`, "pull", ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const ms = performance.now() - started;
    if (!out.success) {
      throw new Error(`lode pull ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    await Deno.remove(`${dir}/store-${n}`, { recursive: true });
    return ms;
  };
  const builtin = [`${origin.url}/bench.gguf#sha256=${sha}`, "--name", "bench"];
  const plugin = ["mirror:bench", "--plugin", EXAMPLE];
  // One untimed pull of each: Deno's module cache warm for lode and for the plugin.
  await pull(builtin, 0);
  await pull(plugin, 0);
  const times = { builtin: [] as number[], plugin: [] as number[] };
  for (let i = 1; i <= runs; i++) {
    // Interleaved, the order alternating, so drift affects both sides alike.
    const order = i % 2 ? ["builtin", "plugin"] as const : ["plugin", "builtin"] as const;
    for (const side of order) times[side].push(await pull(side === "builtin" ? builtin : plugin, i));
  }
  await origin.close();
  const b = median(times.builtin);
  const p = median(times.plugin);
  const result = {
    runs,
    size_bytes: size,
    builtin_median_ms: Math.round(b),
    plugin_median_ms: Math.round(p),
    difference_ms: Math.round(p - b),
    ratio: Number((p / b).toFixed(3)),
    budget_ms: budget,
    within_budget: p - b <= budget,
    builtin_ms: times.builtin.map(Math.round),
    plugin_ms: times.plugin.map(Math.round),
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`pull of ${size} bytes, ${runs} runs each (median wall time of the whole lode process)`);
    console.log(`  built-in https registry: ${result.builtin_median_ms} ms  ${result.builtin_ms.join(" ")}`);
    console.log(`  registry plugin mirror:  ${result.plugin_median_ms} ms  ${result.plugin_ms.join(" ")}`);
    console.log(
      `  difference ${result.difference_ms} ms, ratio ${result.ratio} (budget ${budget} ms: ${
        result.within_budget ? "within" : "OVER"
      })`,
    );
  }
  if (!result.within_budget) Deno.exitCode = 1;
} finally {
  await Deno.remove(dir, { recursive: true });
}

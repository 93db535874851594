/**
 * `deno task demo`: the main job end to end on a built-in default. It serves
 * the bundled stories260K model from a local HTTPS origin on 127.0.0.1 (with a
 * CA made for the occasion), pulls it through the real download path into a
 * fresh store, verifies it, and runs "Once upon a time".
 *
 * `deno task demo --keep` leaves the store in place and prints where it is.
 * @module
 */
import { fileURLToPath } from "node:url";
import { runCli } from "../src/cli/app.ts";
import { makeTestCa } from "../tests/support/test_ca.ts";
import { startOrigin } from "../tests/support/origin.ts";

const MODEL = fileURLToPath(new URL("../tests/fixtures/stories260K.gguf", import.meta.url));
const SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

const dir = await Deno.makeTempDir({ prefix: "lode-demo-" });
const ca = await makeTestCa(`${dir}/ca`);
const origin = await startOrigin({ tls: ca, routes: { "/models/stories260K.gguf": { file: MODEL } } });
const store = `${dir}/store`;
const env = { ...Deno.env.toObject(), MODELS_HOME: store };
const url = `${origin.url}/models/stories260K.gguf#sha256=${SHA256}`;

async function step(args: string[]): Promise<void> {
  console.error(`\n$ lode ${args.map((a) => (/[\s#']/.test(a) ? `'${a}'` : a)).join(" ")}`);
  const code = await runCli(["--ca-cert", ca.caCertPath, ...args], { env });
  if (code !== 0) throw new Error(`lode ${args[0]} exited with ${code}`);
}

let failed = false;
try {
  console.error(`origin: ${origin.url} (CA ${ca.caCertPath})   store: ${store}`);
  await step(["pull", url]);
  await step(["verify", "stories260K"]);
  await step(["ls"]);
  await step([
    "run",
    "stories260K",
    "Once upon a time",
    "--temperature",
    "0",
    "--max-tokens",
    "120",
    "--verbose",
  ]);
} catch (e) {
  console.error(String(e));
  failed = true;
} finally {
  await origin.close();
  if (Deno.args.includes("--keep")) console.error(`\nstore kept at ${store}`);
  else await Deno.remove(dir, { recursive: true });
}
Deno.exit(failed ? 1 : 0);

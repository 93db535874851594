/**
 * `deno task compile`: builds lode as one executable with `deno compile`, carrying node-llama-cpp's
 * prebuilt native addon for the target's CPU build only (`@node-llama-cpp/linux-x64`, ~29 MB) instead
 * of every prebuilt `deno install` pulled in (~740 MB, CUDA alone ~540 MB).
 *
 * ```sh
 * deno task compile                          # dist/lode, CPU build for this machine
 * deno task compile --gpu cuda               # dist/lode-cuda: CUDA build (+ the CPU build as fallback)
 * deno task compile --target aarch64-unknown-linux-gnu   # dist/lode-aarch64-unknown-linux-gnu
 * DENORT_BIN=/path/to/denort deno task compile           # use a local denort runtime
 * deno task compile --offline                # never let deno download denort (fail fast instead)
 * ```
 *
 * `deno compile` needs the `denort` runtime: `DENORT_BIN` when set, otherwise deno downloads it from
 * dl.deno.land (or uses its cached copy). When neither works the script explains what is missing and
 * exits with {@link COMPILE_EXIT}.NO_DENORT (3). The binary is built `--self-extracting`: on first run it
 * unpacks its files beside itself, because llama-addon.node loads its sibling libllama/libggml `.so`
 * files through `$ORIGIN` and scans its directory for CPU backends, which only works on a real disk.
 * After a build for the host it runs `<binary> --version` as a smoke check (exit 4 if that fails).
 * The `deno compile` arguments are compile_plan.ts's; the packages only the tests need, compile_packages.ts's.
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { VERSION } from "../src/version.ts";
import { testOnlyEntries } from "./compile_packages.ts";
import {
  COMPILE_EXIT,
  compileArgs,
  CompileError,
  type CompilePlan,
  DENO_NM,
  type GpuFlavour,
} from "./compile_plan.ts";

/**
 * True when `deno compile`'s stderr says it failed setting up the denort runtime (download failed,
 * or `DENORT_BIN` unusable) rather than in the program itself.
 * @example
 * ```ts
 * isDenortFailure("0: Setting up base binary.\n1: error sending request for url (https://dl.deno.land/...)"); // true
 * ```
 */
export function isDenortFailure(stderr: string): boolean {
  return /Setting up base binary|dl\.deno\.land|denort/i.test(stderr);
}

/**
 * The message printed when no denort runtime can be had.
 * @example
 * ```ts
 * console.error(noDenortMessage({ target: "x86_64-unknown-linux-gnu", denortBin: undefined }));
 * ```
 */
export function noDenortMessage(options: { target: string; denortBin: string | undefined }): string {
  const zip = `denort-${options.target}.zip`;
  const url = `https://dl.deno.land/release/v${Deno.version.deno}/${zip}`;
  const why = options.denortBin === undefined
    ? `DENORT_BIN is not set, and deno could not download ${url}`
    : `DENORT_BIN=${options.denortBin} does not exist`;
  return [
    `compile: no denort runtime: ${why}.`,
    `deno compile ${Deno.version.deno} needs denort (Deno's runtime-only binary) for ${options.target}.`,
    `Provide one: fetch ${zip} for Deno ${Deno.version.deno} where dl.deno.land is reachable, unzip it, and run`,
    `  DENORT_BIN=/path/to/denort deno task compile`,
    `(the deno CLI binary is not a denort: a binary built on it runs deno, not lode).`,
  ].join("\n");
}

const USAGE = `usage: deno task compile [--target TRIPLE] [--gpu cuda|vulkan] [--output PATH]
                         [--offline] [--no-self-extracting]
env: DENORT_BIN=/path/to/denort   a local denort runtime (otherwise deno downloads one)`;

/** Listens on a loopback port and drops every connection: a proxy that makes downloads fail locally. */
function refusingProxy(): { url: string; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    try {
      for await (const conn of listener) conn.close();
    } catch { /* closed */ }
  })();
  return { url: `http://127.0.0.1:${listener.addr.port}`, close: () => listener.close() };
}

async function runTee(cmd: string, args: string[], options: Deno.CommandOptions): Promise<[number, string]> {
  const child = new Deno.Command(cmd, { ...options, args, stdout: "inherit", stderr: "piped" }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stderr) {
    await Deno.stderr.write(chunk);
    text += decoder.decode(chunk, { stream: true });
  }
  return [(await child.status).code, text];
}

async function smokeCheck(output: string): Promise<string | undefined> {
  const r = await new Deno.Command(output, { args: ["--version"], stdout: "piped", stderr: "piped" })
    .output();
  const out = new TextDecoder().decode(r.stdout).trim();
  if (r.code === 0 && out === VERSION) return undefined;
  const err = new TextDecoder().decode(r.stderr).trim().split("\n").slice(0, 3).join(" | ");
  return `\`${output} --version\` exited ${r.code} and printed ${JSON.stringify(out.slice(0, 80))}` +
    `${err ? ` (stderr: ${err.slice(0, 200)})` : ""}, expected ${VERSION}; ` +
    "if DENORT_BIN is the deno CLI rather than a denort, the binary runs deno instead of lode";
}

/**
 * Runs the compile task with `argv` (the script's arguments) and `env`; returns the exit code.
 * @example
 * ```ts
 * Deno.exit(await main(Deno.args, { env: Deno.env.toObject() }));
 * ```
 */
export async function main(argv: string[], options: { env: Record<string, string> }): Promise<number> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  let plan: CompilePlan;
  let offline: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        target: { type: "string" },
        gpu: { type: "string" },
        output: { type: "string", short: "o" },
        offline: { type: "boolean", default: false },
        "self-extracting": { type: "boolean", default: true },
        help: { type: "boolean", short: "h", default: false },
      },
      allowNegative: true,
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return COMPILE_EXIT.OK;
    }
    if (values.gpu !== undefined && values.gpu !== "cuda" && values.gpu !== "vulkan") {
      throw new CompileError(`--gpu must be cuda or vulkan, not ${values.gpu}`, COMPILE_EXIT.USAGE);
    }
    offline = values.offline;
    let installed: string[];
    try {
      installed = [...Deno.readDirSync(`${root}${DENO_NM}`)].map((e) => e.name);
    } catch {
      throw new CompileError(
        `${root}${DENO_NM} is missing: run \`deno install\` first`,
        COMPILE_EXIT.NO_PREBUILT,
      );
    }
    plan = compileArgs("main.ts", {
      installed,
      testOnly: await testOnlyEntries(
        `${root}${DENO_NM}`,
        JSON.parse(await Deno.readTextFile(`${root}deno.json`)),
      ),
      hostTarget: Deno.build.target,
      target: values.target,
      gpu: values.gpu as GpuFlavour | undefined,
      output: values.output,
      selfExtracting: values["self-extracting"],
    });
  } catch (e) {
    const code = e instanceof CompileError ? e.exitCode : COMPILE_EXIT.USAGE;
    console.error(`compile: ${(e as Error).message}`);
    if (code === COMPILE_EXIT.USAGE) console.error(USAGE);
    return code;
  }

  const env: Record<string, string> = { ...options.env };
  const denortBin = env.DENORT_BIN === "" ? undefined : env.DENORT_BIN;
  if (denortBin !== undefined) {
    const abs = denortBin.startsWith("/") ? denortBin : `${env.INIT_CWD ?? Deno.cwd()}/${denortBin}`;
    try {
      if (!Deno.statSync(abs).isFile) throw new Error("not a file");
    } catch {
      console.error(noDenortMessage({ target: plan.target, denortBin }));
      return COMPILE_EXIT.NO_DENORT;
    }
    env.DENORT_BIN = abs;
  } else delete env.DENORT_BIN;

  const proxy = offline && denortBin === undefined ? refusingProxy() : undefined;
  if (proxy) {
    for (const k of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]) {
      env[k] = proxy.url;
    }
    env.NO_PROXY = env.no_proxy = "";
  }
  console.error(
    `compile: ${plan.output} for ${plan.target}; embeds ${plan.prebuilts.join(", ")}; ` +
      `leaves out ${plan.excluded.join(", ") || "nothing"}; runtime ${denortBin ?? "downloaded denort"}`,
  );
  const outputAbs = plan.output.startsWith("/") ? plan.output : `${root}${plan.output}`;
  await Deno.mkdir(outputAbs.slice(0, outputAbs.lastIndexOf("/")), { recursive: true });
  let code: number;
  let stderr: string;
  try {
    [code, stderr] = await runTee(Deno.execPath(), plan.args, { cwd: root, env, clearEnv: true });
  } finally {
    proxy?.close();
  }
  if (code !== 0) {
    if (isDenortFailure(stderr)) {
      console.error(noDenortMessage({ target: plan.target, denortBin }));
      return COMPILE_EXIT.NO_DENORT;
    }
    console.error(`compile: deno compile exited with ${code}`);
    return COMPILE_EXIT.FAILED;
  }
  const size = Deno.statSync(outputAbs).size;
  console.log(`compile: wrote ${plan.output} (${(size / 1e6).toFixed(1)} MB, ${size} bytes)`);
  if (plan.target === Deno.build.target) {
    const problem = await smokeCheck(outputAbs);
    if (problem !== undefined) {
      console.error(`compile: smoke check failed: ${problem}`);
      return COMPILE_EXIT.SMOKE_FAILED;
    }
    console.log(`compile: ${plan.output} --version printed ${VERSION}`);
  }
  return COMPILE_EXIT.OK;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, { env: Deno.env.toObject() }));
}

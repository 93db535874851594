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
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { VERSION } from "../src/version.ts";
import { testOnlyEntries } from "./compile_packages.ts";

/** Exit codes of this script. */
export const COMPILE_EXIT = {
  OK: 0,
  /** `deno compile` failed for a reason other than the runtime. */
  FAILED: 1,
  USAGE: 2,
  /** No denort: `DENORT_BIN` names a missing file, or it is unset and deno could not download one. */
  NO_DENORT: 3,
  /** The binary was written but `<binary> --version` did not print lode's version. */
  SMOKE_FAILED: 4,
  /** The node-llama-cpp prebuilt package for the target/flavour is not in node_modules. */
  NO_PREBUILT: 5,
} as const;

/** GPU flavours that can be compiled in as a separate build. */
export type GpuFlavour = "cuda" | "vulkan";

interface TargetPrebuilts {
  /** node-llama-cpp's default (CPU; Metal on Apple silicon) prebuilt package, without the scope. */
  cpu: string;
  gpu: Partial<Record<GpuFlavour, string[]>>;
}

/** Deno compile targets and the `@node-llama-cpp/*` packages each needs (node-llama-cpp 3.21). */
export const TARGET_PREBUILTS: Readonly<Record<string, TargetPrebuilts>> = {
  "x86_64-unknown-linux-gnu": {
    cpu: "linux-x64",
    gpu: { cuda: ["linux-x64-cuda", "linux-x64-cuda-ext"], vulkan: ["linux-x64-vulkan"] },
  },
  "aarch64-unknown-linux-gnu": { cpu: "linux-arm64", gpu: {} },
  "x86_64-apple-darwin": { cpu: "mac-x64", gpu: {} },
  "aarch64-apple-darwin": { cpu: "mac-arm64-metal", gpu: {} },
  "x86_64-pc-windows-msvc": {
    cpu: "win-x64",
    gpu: { cuda: ["win-x64-cuda", "win-x64-cuda-ext"], vulkan: ["win-x64-vulkan"] },
  },
};

/** An error this script reports as one message and an exit code. */
export class CompileError extends Error {
  /** @param exitCode one of {@link COMPILE_EXIT} */
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = "CompileError";
  }
}

/** Options for {@link compileArgs}. */
export interface CompileArgsOptions {
  /** Entries of `node_modules/.deno` (e.g. `@node-llama-cpp+linux-x64@3.21.1`, `node-llama-cpp@3.21.1`). */
  installed: readonly string[];
  /** The machine's own target (`Deno.build.target`); used when `target` is not given. */
  hostTarget: string;
  /** `--target` to pass through to deno compile. */
  target?: string;
  gpu?: GpuFlavour;
  /** Output path; default `dist/lode[-TARGET][-GPU]` (`.exe` added for Windows). */
  output?: string;
  /** Build with `--self-extracting` (default true; see the module doc for why). */
  selfExtracting?: boolean;
  /** Entries of `node_modules/.deno` only the tests need ({@link testOnlyEntries}): left out of the binary. */
  testOnly?: readonly string[];
}

/** What {@link compileArgs} computed. */
export interface CompilePlan {
  /** Arguments after `deno`, starting with `compile`; paths are relative to the repository root. */
  args: string[];
  output: string;
  target: string;
  /** `@node-llama-cpp/*` packages embedded (included explicitly). */
  prebuilts: string[];
  /** `@node-llama-cpp/*` packages present in node_modules but left out. */
  excluded: string[];
}

const DENO_NM = "node_modules/.deno";

const SCOPE = "@node-llama-cpp";
/** llama.cpp's source bundle (34 MB): only for building from source, which lode never does. */
const SOURCE_BUNDLE = "llama/gitRelease.bundle";

/**
 * Computes the `deno compile` arguments for one target and flavour: the wanted prebuilt packages are
 * `--include`d, every other installed `@node-llama-cpp/*` package (its folder, its inner package
 * folder and node-llama-cpp's link to it) is `--exclude`d, and so is llama.cpp's source bundle.
 * Throws {@link CompileError} for an unknown target, an unsupported GPU flavour or a missing package.
 * @example
 * ```ts
 * const plan = compileArgs("main.ts", {
 *   installed: ["node-llama-cpp@3.21.1", "@node-llama-cpp+linux-x64@3.21.1", "@node-llama-cpp+linux-x64-cuda@3.21.1"],
 *   hostTarget: "x86_64-unknown-linux-gnu",
 * });
 * plan.output;   // "dist/lode"
 * plan.excluded; // ["@node-llama-cpp/linux-x64-cuda"]
 * ```
 */
export function compileArgs(entry: string, options: CompileArgsOptions): CompilePlan {
  const target = options.target ?? options.hostTarget;
  const platform = TARGET_PREBUILTS[target];
  if (platform === undefined) {
    const known = Object.keys(TARGET_PREBUILTS).join(", ");
    throw new CompileError(`unknown --target ${target}; one of: ${known}`, COMPILE_EXIT.USAGE);
  }
  const flavour = options.gpu === undefined ? [] : platform.gpu[options.gpu];
  if (flavour === undefined) {
    const has = Object.keys(platform.gpu);
    const choice = has.length > 0 ? `it has ${has.join(", ")}` : "it has only its default build";
    throw new CompileError(
      `no --gpu ${options.gpu} build of node-llama-cpp for ${target}: ${choice}`,
      COMPILE_EXIT.USAGE,
    );
  }
  // A GPU build keeps the CPU build as the fallback node-llama-cpp uses when the GPU cannot load.
  const wanted = [...flavour, platform.cpu];

  const nlc = options.installed.filter((e) => e.startsWith("node-llama-cpp@"));
  const nlcVersions = nlc.map((e) => e.slice("node-llama-cpp@".length));
  if (nlc.length === 0) {
    throw new CompileError(
      `node-llama-cpp is not in ${DENO_NM}: run \`deno install\` first`,
      COMPILE_EXIT.NO_PREBUILT,
    );
  }
  const prebuilts = new Map<string, string>(); // dir entry -> package name (without scope)
  for (const e of options.installed) {
    const m = /^@node-llama-cpp\+(.+)@([^@]+)$/.exec(e);
    if (m) prebuilts.set(e, m[1] as string);
  }
  const include: string[] = [];
  const exclude: string[] = [];
  const kept = new Set<string>();
  const left = new Set<string>();
  for (const [dir, name] of prebuilts) {
    const version = dir.slice(dir.lastIndexOf("@") + 1);
    const inner = `${DENO_NM}/${dir}/node_modules/${SCOPE}/${name}`;
    if (wanted.includes(name) && nlcVersions.includes(version)) {
      include.push(inner);
      kept.add(name);
    } else {
      exclude.push(`${DENO_NM}/${dir}`, inner);
      left.add(name);
    }
  }
  for (const name of wanted) {
    if (kept.has(name)) continue;
    throw new CompileError(
      `${SCOPE}/${name}@${nlcVersions.join("|")} (node-llama-cpp's prebuilt for ${target}` +
        `${options.gpu ? ` ${options.gpu}` : ""}) is not installed in ${DENO_NM}; \`deno install\` ` +
        "only fetches the prebuilts whose os/cpu match the machine it runs on",
      COMPILE_EXIT.NO_PREBUILT,
    );
  }
  for (const e of nlc) {
    for (const name of left) exclude.push(`${DENO_NM}/${e}/node_modules/${SCOPE}/${name}`);
    exclude.push(`${DENO_NM}/${e}/node_modules/node-llama-cpp/${SOURCE_BUNDLE}`);
  }

  const output = options.output ?? defaultOutput(target, options);
  const args = ["compile", "-A", "--output", output];
  if (options.target !== undefined) args.push("--target", options.target);
  if (options.selfExtracting ?? true) args.push("--self-extracting");
  for (const e of options.testOnly ?? []) {
    // The package's folder and its entry (deno compile keeps an excluded entry's inner package otherwise).
    const name = e.slice(0, e.lastIndexOf("@")).replace("+", "/");
    exclude.push(`${DENO_NM}/${e}`, `${DENO_NM}/${e}/node_modules/${name}`);
  }
  for (const p of include) args.push("--include", p);
  for (const p of exclude) args.push("--exclude", p);
  args.push(entry);
  return {
    args,
    output,
    target,
    prebuilts: [...kept].map((n) => `${SCOPE}/${n}`).sort(),
    excluded: [...left].map((n) => `${SCOPE}/${n}`).sort(),
  };
}

function defaultOutput(target: string, options: CompileArgsOptions): string {
  let name = "dist/lode";
  if (options.target !== undefined) name += `-${options.target}`;
  if (options.gpu !== undefined) name += `-${options.gpu}`;
  return target.includes("windows") ? `${name}.exe` : name;
}

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

/**
 * The `deno compile` arguments of `deno task compile` (compile.ts) for one target and GPU flavour
 * ({@link compileArgs}): which of node-llama-cpp's prebuilt packages are embedded and which are left
 * out; and the script's exit codes and error ({@link COMPILE_EXIT}, {@link CompileError}).
 *
 * @example
 * ```ts
 * import { compileArgs } from "./compile_plan.ts";
 * const plan = compileArgs("main.ts", {
 *   installed: ["node-llama-cpp@3.21.1", "@node-llama-cpp+linux-x64@3.21.1"],
 *   hostTarget: "x86_64-unknown-linux-gnu",
 * });
 * plan.args; // ["compile", "-A", "--output", "dist/lode", "--self-extracting", "--include", …, "main.ts"]
 * ```
 * @module
 */
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

/** Where `deno install` puts the npm packages, relative to the repository root. */
export const DENO_NM = "node_modules/.deno";

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

/**
 * `deno task install` (scripts/install.ts): puts a `lode` launcher on PATH that runs this checkout's
 * main.ts with the pinned Deno ({@link PINNED_DENO}).
 *
 * ```sh
 * npx --yes deno@2.9.6 task install                   # ~/.local/bin/lode (or $XDG_BIN_HOME/lode)
 * npx --yes deno@2.9.6 task install --bin-dir ~/bin   # another directory
 * ```
 *
 * The Deno that `npx` runs lives in npm's cache (`~/.npm/_npx/<hash>/`), which `npm cache clean` or
 * npm itself may delete. The launcher therefore runs its own copy of that binary, kept at
 * `$XDG_DATA_HOME/lode/deno/<version>/deno` (default `~/.local/share/lode/deno/<version>/deno`): a hard
 * link to the running Deno when both are on one file system (no extra disk, and the link survives the
 * cache's deletion), else a copy. Run under any other Deno version, the script runs itself again
 * through `npx --yes deno@<pinned>` so that the copy is always the pinned version.
 *
 * The launcher is a two-line POSIX shell script that `exec`s
 * `deno run -A --cached-only --no-check --config <checkout>/deno.json <checkout>/main.ts "$@"`:
 * no type check, no network look-up at start, this checkout's configuration wherever it is run from.
 * It never overwrites a `lode` it did not write (unless `--force`), says when the directory is not on
 * PATH and how to add it, and runs `lode --version` through the new launcher before it reports success.
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { VERSION } from "../src/version.ts";

/** The Deno version lode is pinned to (README's `npx --yes deno@…`, `.ci/run`). */
export const PINNED_DENO = "2.9.6";

/** The marker line that tells a launcher this script wrote from any other `lode`. */
export const LAUNCHER_MARKER = "# lode launcher, written by `deno task install` (scripts/install.ts)";

/** Exit codes of this script. */
export const INSTALL_EXIT = {
  OK: 0,
  /** The launcher was written but `lode --version` through it did not print lode's version. */
  SMOKE_FAILED: 1,
  USAGE: 2,
  /** A `lode` this script did not write is in the way (pass `--force` to replace it). */
  EXISTS: 3,
  /** The pinned Deno could not be obtained (the running Deno is another version and npx failed). */
  NO_DENO: 4,
  /** Not a POSIX system: the launcher is a shell script. */
  UNSUPPORTED: 5,
} as const;

const HELP = `deno task install [--bin-dir DIR] [--force]

Writes DIR/lode, a launcher that runs this checkout (main.ts) with Deno ${PINNED_DENO}.

  --bin-dir DIR   where to write it (default: $XDG_BIN_HOME, else ~/.local/bin)
  --force         replace a lode in DIR that this script did not write

Example:
  npx --yes deno@${PINNED_DENO} task install && lode --version
`;

/** Where the launcher goes: `--bin-dir`, else `$XDG_BIN_HOME`, else `~/.local/bin`. */
export function binDirFor(flag: string | undefined, env: Record<string, string | undefined>): string {
  if (flag) return flag;
  if (env.XDG_BIN_HOME) return env.XDG_BIN_HOME;
  return `${homeOf(env)}/.local/bin`;
}

/** Where the launcher's own Deno binary is kept: `$XDG_DATA_HOME/lode/deno/<version>/deno`. */
export function denoHomeFor(env: Record<string, string | undefined>, version = PINNED_DENO): string {
  const data = env.XDG_DATA_HOME || `${homeOf(env)}/.local/share`;
  return `${data}/lode/deno/${version}`;
}

function homeOf(env: Record<string, string | undefined>): string {
  if (!env.HOME) throw new UsageError("HOME is not set: pass --bin-dir DIR");
  return env.HOME;
}

/** Quotes `s` for a POSIX shell (single quotes; an embedded `'` becomes `'\''`). */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The launcher's text: `exec`s `deno` on the checkout's main.ts with its deno.json.
 *
 * @example
 * ```ts
 * import { launcherScript } from "./install.ts";
 * const text = launcherScript({ deno: "/home/a/.local/share/lode/deno/2.9.6/deno", checkout: "/home/a/lode" });
 * text.startsWith("#!/bin/sh\n"); // true
 * ```
 */
export function launcherScript(opts: { deno: string; checkout: string }): string {
  const args = [
    "run",
    "-A",
    // node_modules and the lockfile are this checkout's: nothing to fetch, no registry to ask.
    "--cached-only",
    // `deno run` does not type-check by default; said explicitly, as a launcher must not start to.
    "--no-check",
    "--config",
    shellQuote(`${opts.checkout}/deno.json`),
    shellQuote(`${opts.checkout}/main.ts`),
  ];
  return [
    "#!/bin/sh",
    LAUNCHER_MARKER,
    `# Runs the checkout ${opts.checkout} with Deno ${PINNED_DENO}; run the task again after moving it.`,
    `DENO_NO_UPDATE_CHECK=1 exec ${shellQuote(opts.deno)} ${args.join(" ")} "$@"`,
    "",
  ].join("\n");
}

/**
 * What to tell the user when `binDir` is not on `PATH`, or null when it is.
 *
 * @example
 * ```ts
 * import { pathAdvice } from "./install.ts";
 * pathAdvice("/home/a/.local/bin", "/usr/bin:/home/a/.local/bin"); // null
 * ```
 */
export function pathAdvice(binDir: string, path: string | undefined): string | null {
  const dirs = (path ?? "").split(":").map((d) => d.replace(/\/+$/, ""));
  if (dirs.includes(binDir.replace(/\/+$/, ""))) return null;
  return [
    `${binDir} is not on PATH. Add it, then open a new shell:`,
    `  echo 'export PATH="${binDir}:$PATH"' >> ~/.profile   # bash, sh, zsh: or ~/.bashrc / ~/.zshrc`,
    `or run it by its path: ${binDir}/lode --help`,
  ].join("\n");
}

class UsageError extends Error {}

/** The first executable `lode` on `path`, or null when there is none. */
async function firstOnPath(path: string | undefined): Promise<string | null> {
  for (const dir of (path ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = await Deno.stat(`${dir}/lode`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return `${dir}/lode`;
    } catch {
      // not in this directory
    }
  }
  return null;
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    if (e instanceof Deno.errors.IsADirectory) return ""; // in the way, and not a launcher
    throw e;
  }
}

/** Writes `text` to `path` through a temporary file in the same directory, then renames it. */
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, text, { mode });
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, path);
}

/**
 * Puts the pinned Deno at `denoHome/deno` (hard link to `source`, else a copy) and returns its path.
 * An existing binary of the right version is kept.
 */
async function placeDeno(source: string, denoHome: string): Promise<string> {
  const target = `${denoHome}/deno`;
  if (await versionOf(target) === PINNED_DENO) return target;
  await Deno.mkdir(denoHome, { recursive: true });
  const tmp = `${target}.tmp-${Deno.pid}`;
  await Deno.remove(tmp).catch(() => {});
  try {
    await Deno.link(source, tmp);
  } catch {
    await Deno.copyFile(source, tmp); // another file system (EXDEV) or links not allowed
    await Deno.chmod(tmp, 0o755);
  }
  await Deno.rename(tmp, target);
  return target;
}

async function versionOf(deno: string): Promise<string | null> {
  try {
    const out = await new Deno.Command(deno, { args: ["--version"], stdout: "piped", stderr: "null" })
      .output();
    return /^deno (\S+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Runs this script again under the pinned Deno through npx; returns its exit code. */
async function rerunPinned(args: string[]): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  console.error(
    `deno ${Deno.version.deno} is not lode's pinned ${PINNED_DENO}: running npx --yes deno@${PINNED_DENO}`,
  );
  try {
    const status = await new Deno.Command("npx", {
      args: ["--yes", `deno@${PINNED_DENO}`, "run", "-A", self, ...args],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    return status.code;
  } catch (e) {
    console.error(`error: could not run npx (${(e as Error).message}); install Node.js and npm, or run this`);
    console.error(`task with Deno ${PINNED_DENO}: npx --yes deno@${PINNED_DENO} task install`);
    return INSTALL_EXIT.NO_DENO;
  }
}

/** The task: parses `args`, writes the launcher, checks it. Returns the exit code. */
export async function install(args: string[], env: Record<string, string | undefined>): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        "bin-dir": { type: "string" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${HELP}`);
    return INSTALL_EXIT.USAGE;
  }
  if (flags.help) {
    console.log(HELP);
    return INSTALL_EXIT.OK;
  }
  if (Deno.build.os === "windows") {
    console.error(
      "error: the lode launcher is a POSIX shell script; on Windows run `deno task compile` instead",
    );
    return INSTALL_EXIT.UNSUPPORTED;
  }
  if (Deno.version.deno !== PINNED_DENO) return await rerunPinned(args);

  let binDir: string;
  let denoHome: string;
  try {
    binDir = binDirFor(flags["bin-dir"], env);
    denoHome = denoHomeFor(env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}`);
    return INSTALL_EXIT.USAGE;
  }
  const checkout = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
  const launcher = `${binDir}/lode`;

  const existing = await readIfExists(launcher);
  if (existing !== null && !existing.includes(LAUNCHER_MARKER) && !flags.force) {
    console.error(`error: ${launcher} exists and was not written by this task; pass --force to replace it`);
    return INSTALL_EXIT.EXISTS;
  }

  const deno = await placeDeno(Deno.execPath(), denoHome);
  await Deno.mkdir(binDir, { recursive: true });
  await writeAtomically(launcher, launcherScript({ deno, checkout }), 0o755);

  // The first run through the launcher also fills Deno's code cache for the next ones.
  const smoke = await new Deno.Command(launcher, { args: ["--version"], stdout: "piped", stderr: "piped" })
    .output();
  const printed = new TextDecoder().decode(smoke.stdout).trim();
  if (!smoke.success || printed !== VERSION) {
    console.error(`error: ${launcher} --version printed ${JSON.stringify(printed)} (exit ${smoke.code})`);
    console.error(new TextDecoder().decode(smoke.stderr));
    return INSTALL_EXIT.SMOKE_FAILED;
  }

  console.log(`${launcher}: runs ${checkout}/main.ts with Deno ${PINNED_DENO} (${deno})`);
  const advice = pathAdvice(binDir, env.PATH);
  if (advice) {
    console.log(advice);
  } else {
    const first = await firstOnPath(env.PATH);
    if (first !== null && first !== launcher) {
      console.log(
        `note: ${first} comes first on PATH and is the \`lode\` a shell runs; remove it or reorder PATH`,
      );
    }
  }
  return INSTALL_EXIT.OK;
}

if (import.meta.main) {
  Deno.exit(await install(Deno.args, Deno.env.toObject()));
}

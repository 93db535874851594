/**
 * `deno task install` for real: the script writes a launcher into a temporary bin directory (its Deno
 * under a temporary XDG_DATA_HOME), and `lode --version` and `lode ls --store` run through it.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { LAUNCHER_MARKER, launcherScript, pathAdvice, PINNED_DENO, shellQuote } from "./install.ts";
import { VERSION } from "../src/version.ts";

const SCRIPT = fileURLToPath(new URL("./install.ts", import.meta.url));
const CHECKOUT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(command, {
    args,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-install-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("deno task install: the launcher runs this checkout with its own pinned Deno; lode --version, lode ls --store", async () => {
  await withTemp(async (dir) => {
    const bin = `${dir}/bin`;
    const env = { XDG_DATA_HOME: `${dir}/data`, PATH: "/usr/bin:/bin" };
    const installed = await run(Deno.execPath(), ["run", "-A", SCRIPT, "--bin-dir", bin], env);
    assert.equal(installed.code, 0, installed.stderr);
    // The bin directory is not on this PATH: the script says so and how to add it.
    assert.match(installed.stdout, new RegExp(`${bin} is not on PATH`));
    assert.match(installed.stdout, /export PATH=/);

    const text = await Deno.readTextFile(`${bin}/lode`);
    assert.ok(text.includes(LAUNCHER_MARKER));
    assert.ok(text.includes(`--config '${CHECKOUT}/deno.json'`), text);
    assert.ok(text.includes("--cached-only") && text.includes("--no-check"), text);
    // The launcher's Deno is its own file under XDG_DATA_HOME, not npx's cache (which npm may clean).
    const deno = `${dir}/data/lode/deno/${PINNED_DENO}/deno`;
    assert.ok(text.includes(shellQuote(deno)), text);
    assert.match(
      (await run(deno, ["--version"])).stdout,
      new RegExp(`^deno ${PINNED_DENO.replaceAll(".", "\\.")} `),
    );

    const version = await run(`${bin}/lode`, ["--version"]);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), VERSION);
    assert.equal(version.stderr, "");

    // From another working directory, with a fresh store: the checkout's config still applies.
    const ls = await new Deno.Command(`${bin}/lode`, {
      args: ["ls", "--store", `${dir}/store`],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(ls.code, 0, new TextDecoder().decode(ls.stderr));
    assert.match(new TextDecoder().decode(ls.stdout), /^NAME\s+SIZE\s+DIGEST/);

    // Again: the launcher and its Deno are replaced in place, and a bin dir on PATH gets no advice.
    const again = await run(Deno.execPath(), ["run", "-A", SCRIPT, "--bin-dir", bin], {
      ...env,
      PATH: `${bin}:/usr/bin:/bin`,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /not on PATH/);
  });
});

Deno.test("deno task install: a lode it did not write is left alone unless --force; bad flags exit 2", async () => {
  await withTemp(async (dir) => {
    const bin = `${dir}/bin`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(`${bin}/lode`, "#!/bin/sh\necho another lode\n", { mode: 0o755 });
    const env = { XDG_DATA_HOME: `${dir}/data`, PATH: "/usr/bin:/bin" };
    const refused = await run(Deno.execPath(), ["run", "-A", SCRIPT, "--bin-dir", bin], env);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /was not written by this task; pass --force/);
    assert.equal(await Deno.readTextFile(`${bin}/lode`), "#!/bin/sh\necho another lode\n");

    const forced = await run(Deno.execPath(), ["run", "-A", SCRIPT, "--bin-dir", bin, "--force"], env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok((await Deno.readTextFile(`${bin}/lode`)).includes(LAUNCHER_MARKER));

    const usage = await run(Deno.execPath(), ["run", "-A", SCRIPT, "--bin-dri", bin], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /bin-dri/);
  });
});

Deno.test("launcherScript quotes paths for the shell; pathAdvice is null for a directory on PATH", () => {
  const text = launcherScript({ deno: "/d/it's/deno", checkout: "/c/my lode" });
  assert.ok(text.includes(`'/d/it'\\''s/deno'`), text);
  assert.ok(text.includes(`'/c/my lode/main.ts' "$@"`), text);
  assert.equal(pathAdvice("/home/a/.local/bin/", "/usr/bin:/home/a/.local/bin"), null);
  assert.match(pathAdvice("/home/a/bin", "/usr/bin") ?? "", /\/home\/a\/bin is not on PATH/);
});

Deno.test("the README and .ci/run name the Deno version the launcher pins", async () => {
  const readme = await Deno.readTextFile(`${CHECKOUT}/README.md`);
  const ci = await Deno.readTextFile(`${CHECKOUT}/.ci/run`);
  for (const [name, text] of [["README.md", readme], [".ci/run", ci]] as const) {
    const pins = [...text.matchAll(/npx --yes deno@(\S+)/g)].map((m) => m[1]);
    assert.ok(pins.length > 0, `${name} names no npx --yes deno@VERSION`);
    for (const pin of pins) assert.equal(pin, PINNED_DENO, name);
  }
});

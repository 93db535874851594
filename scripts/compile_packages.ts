/**
 * Which installed npm packages the program needs: `deno compile` embeds the whole `node_modules` it is
 * given, so the packages only the tests import, and what only they depend on, are found here to be left out.
 * @module
 */
/**
 * The npm packages of deno.json that only the tests import (the SDK clients the OpenAI front is tested
 * with, type packages): they and what only they depend on stay out of the binary, since `deno compile`
 * embeds the whole `node_modules` it is given.
 */
export const TEST_CLIENTS: readonly string[] = [
  "openai",
  "ai",
  "@ai-sdk/openai",
  "@ai-sdk/openai-compatible",
  "@langchain/openai",
  "@langchain/core",
  "@types/node",
  "@types/cli-progress",
];

/**
 * The entries of `denoNm` (`node_modules/.deno`) no package the program imports needs: everything but the
 * closure, through each entry's `node_modules` links, of deno.json's npm imports other than
 * {@link TEST_CLIENTS}. `@node-llama-cpp/*` prebuilts are left to {@link compileArgs}.
 * @example
 * ```ts
 * const skip = await testOnlyEntries("node_modules/.deno", { imports: { zod: "npm:zod@3.25.76", ai: "npm:ai@7.0.185" } });
 * ```
 */
export async function testOnlyEntries(
  denoNm: string,
  denoJson: { imports?: Record<string, string> },
): Promise<string[]> {
  const entries = [...Deno.readDirSync(denoNm)].filter((e) => e.isDirectory).map((e) => e.name);
  const entryOf = (pkg: string, version?: string) =>
    entries.filter((e) => {
      const at = e.lastIndexOf("@");
      return e.slice(0, at) === pkg.replace("/", "+") &&
        (version === undefined || e.slice(at + 1) === version);
    });
  const roots = Object.entries(denoJson.imports ?? {})
    .filter(([name, spec]) => spec.startsWith("npm:") && !TEST_CLIENTS.includes(name))
    .flatMap(([, spec]) => {
      const m = /^npm:(@?[^@]+)@(.+)$/.exec(spec);
      return m ? entryOf(m[1]!, m[2]) : [];
    });
  const needed = new Set<string>();
  const walk = async (entry: string) => {
    if (needed.has(entry)) return;
    needed.add(entry);
    for (const target of await linkedEntries(`${denoNm}/${entry}/node_modules`)) {
      if (entries.includes(target)) await walk(target);
    }
  };
  for (const root of roots) await walk(root);
  return entries.filter((e) => !needed.has(e) && e !== "node_modules" && !e.startsWith("@node-llama-cpp+"))
    .sort();
}

/** The `.deno` entries the links in one entry's `node_modules` point at (`../../zod@3.25.76/node_modules/zod`). */
async function linkedEntries(dir: string): Promise<string[]> {
  const out: string[] = [];
  const look = async (path: string) => {
    let list: Deno.DirEntry[];
    try {
      list = [...Deno.readDirSync(path)];
    } catch {
      return;
    }
    for (const e of list) {
      const at = `${path}/${e.name}`;
      if (e.isSymlink) out.push((await Deno.readLink(at)).replace(/^(\.\.\/)+/, "").split("/")[0]!);
      else if (e.isDirectory && e.name.startsWith("@")) await look(at);
    }
  };
  await look(dir);
  return out;
}

/**
 * `lode plugin new registry|sink|backend DIR`: the files of a new plugin, made from the SDK, that pass
 * their hook kind's conformance suite (`lode plugin test DIR`) as they are. The entry imports the SDK by
 * an absolute `file:` URL of this lode's `plugins/sdk/mod.ts`, so the folder runs wherever it is.
 *
 * @example
 * ```ts
 * import { scaffold } from "./plugin_scaffold.ts";
 * const files = scaffold("registry", "my_registry", "file:///opt/lode/plugins/sdk/mod.ts");
 * // files["lode-plugin.json"], files["main.ts"]
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

/** The kinds `lode plugin new` makes. */
export const SCAFFOLD_KINDS = ["registry", "sink", "backend"] as const;
export type ScaffoldKind = typeof SCAFFOLD_KINDS[number];

const REGISTRY = `definePlugin({
  name: NAME,
  version: "0.1.0",
  registry: {
    schemes: [SCHEME],
    resolve(ref) {
      // Refuse what is not a name: lode reports the message as PLUGIN_FAILED.
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(ref.rest)) throw new Error(\`"\${ref.rest}" is not a model name\`);
      // Descriptors only: lode downloads every URL (in order) and verifies the SHA-256 and size.
      return Promise.resolve({
        name: ref.rest,
        reference: ref.reference,
        source: { registry: NAME, repo: "", revision: "" },
        files: [{
          role: "model",
          filename: \`\${ref.rest}.gguf\`,
          urls: [\`https://models.example/\${ref.rest}.gguf\`],
          sha256: "0".repeat(64),
          sizeBytes: 0,
        }],
      });
    },
    // Headers for requests to \`host\` (lode sends them to that host only), or null.
    credentials: () => Promise.resolve(null),
  },
});
`;

const SINK = `let received = 0;

definePlugin({
  name: NAME,
  version: "0.1.0",
  sink: {
    event(envelope) {
      if (envelope === null || typeof envelope !== "object") throw new Error("not an envelope");
      received++;
    },
    close() {
      console.error(\`\${NAME}: \${received} events\`);
      return Promise.resolve();
    },
  },
});
`;

const BACKEND = `definePlugin({
  name: NAME,
  version: "0.1.0",
  // Optional protocol features its sessions implement (docs/plugins.md), e.g. ["tools", "render_chat"];
  // a session then says so in its features ({ tools: true, renderChat: true, ... }).
  features: [],
  backend: {
    name: NAME,
    async probe(path) {
      try {
        const file = await Deno.open(path);
        const magic = new Uint8Array(4);
        await file.read(magic);
        file.close();
        const gguf = new TextDecoder().decode(magic) === "GGUF";
        return gguf ? { ok: true, format: "gguf", architecture: "unknown" } : { ok: false, reason: "not a GGUF file" };
      } catch (e) {
        return { ok: false, reason: (e as Error).message };
      }
    },
    load() {
      return Promise.reject(new Error("this backend loads no model yet"));
    },
  },
});
`;

/** The files of a new plugin of `kind` named `name`, its entry importing the SDK at `sdkUrl`. */
export function scaffold(kind: ScaffoldKind, name: string, sdkUrl: string): Record<string, string> {
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) {
    throw new LodeError("USAGE", `"${name}" is not a plugin name (lowercase a-z, 0-9, - and _)`, {
      hint: "Name the folder like the plugin: lode plugin new registry ./my_registry",
    });
  }
  const scheme = name.replace(/_/g, "-");
  const body = { registry: REGISTRY, sink: SINK, backend: BACKEND }[kind];
  const permissions = kind === "backend"
    ? { read: [{ path: "/", reason: "the model files lode asks it to probe and load" }] }
    : {};
  const manifest = {
    name,
    version: "0.1.0",
    api_version: 1,
    hooks: [kind],
    ...(kind === "registry" ? { schemes: [scheme] } : {}),
    entry: "main.ts",
    description: `A ${kind} plugin made by lode plugin new.`,
    permissions,
  };
  const main =
    `import { definePlugin } from ${JSON.stringify(sdkUrl)};\n\nconst NAME = ${JSON.stringify(name)};\n` +
    (kind === "registry" ? `const SCHEME = ${JSON.stringify(scheme)};\n` : "") + `\n${body}`;
  return { "lode-plugin.json": JSON.stringify(manifest, null, 2) + "\n", "main.ts": main };
}

/**
 * A registry plugin: `mirror:NAME` resolved through an ordered list of internal mirrors. Each mirror
 * serves an `index.json` (`{"models": {"NAME": {"file": "NAME.gguf", "sha256": HEX, "size_bytes": N}}}`)
 * beside the files it names. The first mirror whose index answers gives the file, its SHA-256 and
 * size; the plan lists the file on every mirror, in order, and lode's core tries them in that order and
 * verifies the bytes. `MIRROR_REGISTRY_URLS` lists the mirrors' base URLs; `MIRROR_REGISTRY_TOKEN`,
 * when set, is sent as a bearer token to the mirrors' hosts only (through `registry.credentials`).
 *
 * Edit `lode-plugin.json`'s `net` to your mirrors' hosts: the sandbox lets the plugin reach no other.
 * @module
 */
import { definePlugin, type PlanDescriptor, type RegistryRef } from "../../sdk/mod.ts";

interface IndexEntry {
  file: string;
  sha256: string;
  size_bytes: number;
  revision?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function mirrors(): URL[] {
  const raw = Deno.env.get("MIRROR_REGISTRY_URLS") ?? "";
  const urls = raw.split(",").map((s) => s.trim()).filter(Boolean).map((s) =>
    new URL(s.endsWith("/") ? s : `${s}/`)
  );
  if (urls.length === 0) throw new Error("MIRROR_REGISTRY_URLS lists no mirror (comma-separated base URLs)");
  return urls;
}

async function entryOf(base: URL, name: string, signal: AbortSignal): Promise<IndexEntry | null> {
  const response = await fetch(new URL("index.json", base), { signal, headers: authorization() });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const index = await response.json() as { models?: Record<string, IndexEntry> };
  return index.models?.[name] ?? null;
}

function authorization(): Record<string, string> {
  const token = Deno.env.get("MIRROR_REGISTRY_TOKEN");
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function resolve(ref: RegistryRef, context: { signal: AbortSignal; progress(d: unknown): void }) {
  const name = ref.rest;
  if (!NAME.test(name)) throw new Error(`"${name}" is not a model name (letters, digits, . _ -)`);
  const bases = mirrors();
  const failures: string[] = [];
  for (const base of bases) {
    context.progress({ step: "index", mirror: base.origin });
    let entry: IndexEntry | null;
    try {
      entry = await entryOf(base, name, context.signal);
    } catch (e) {
      if (context.signal.aborted) throw e;
      failures.push(`${base.origin}: ${(e as Error).message}`);
      continue;
    }
    if (entry === null) {
      failures.push(`${base.origin}: no ${name} in its index`);
      continue;
    }
    const plan: PlanDescriptor = {
      name,
      reference: ref.reference,
      source: { registry: "mirror", repo: "", revision: entry.revision ?? "" },
      files: [{
        role: "model",
        filename: entry.file,
        urls: bases.map((b) => new URL(entry.file, b).href),
        sha256: entry.sha256,
        sizeBytes: entry.size_bytes,
      }],
      format: "gguf",
    };
    return plan;
  }
  throw new Error(`no mirror resolves ${name}: ${failures.join("; ")}`);
}

definePlugin({
  name: "mirror_registry",
  version: "1.0.0",
  registry: {
    schemes: ["mirror"],
    resolve,
    credentials(host) {
      const headers = authorization();
      const ours = Deno.env.get("MIRROR_REGISTRY_URLS") !== undefined &&
        mirrors().some((b) => b.host === host);
      return Promise.resolve(ours && headers.authorization ? { headers } : null);
    },
  },
});

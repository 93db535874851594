/**
 * Model references: what a user types to name a model, parsed once into a
 * typed {@link ModelRef}. This comment and docs/references.md are the
 * grammar's documentation. Accepted forms:
 *
 * | form                                        | meaning                                                    |
 * | ------------------------------------------- | ---------------------------------------------------------- |
 * | `hf:OWNER/REPO[:QUANT][@REVISION]`          | a GGUF repo on Hugging Face; QUANT picks the file          |
 * | `hf:OWNER/REPO/PATH/FILE.gguf[@REVISION]`   | one file of a Hugging Face repo, by its path               |
 * | `hf.co/OWNER/REPO[:QUANT][@REVISION]`       | the same as `hf:` (ollama / llama.cpp style); also         |
 * |                                             | `huggingface.co/…`, and the path form after either host    |
 * | `https://HOST/PATH/FILE.gguf`               | a file over https                                          |
 * | `https://…/FILE.gguf#sha256=HEX`            | the same, pinned to a SHA-256                              |
 * | `http://…`                                  | only for hosts allowed with `--allow-http`                 |
 * | `file:PATH`                                 | a local file (imported, hashed on the way)                 |
 * | `oci://HOST[:PORT]/REPO:TAG`                | a model artifact in an OCI registry (docs/oci.md)          |
 * | `oci://HOST[:PORT]/REPO@sha256:HEX`         | the same, pinned to a manifest digest                      |
 * | `NAME`                                      | a model already in the store                               |
 * | `SCHEME:REST`                               | resolved by the registry plugin claiming SCHEME (`mirror:`) |
 *
 * Hugging Face parts:
 * - `OWNER`, `REPO`: letters, digits, `.`, `_`, `-`; start and end with a letter or digit; no `--` or
 *   `..`; at most 96 characters each (the Hub's own rule).
 * - `QUANT`: letters, digits, single `_` or `-` between them (`Q4_K_M`, `q8_0`, `UD-Q4_K_XL`, `F16`);
 *   case-insensitive (kept upper-case). `latest` (ollama's default tag) means "no QUANT". Without one,
 *   the registry picks `Q4_K_M`, else the first GGUF file (what llama.cpp's `-hf` does).
 * - `REVISION`: a branch, tag or commit sha (`main`, `v1.0`, `refs/pr/3`): letters, digits, `._-`,
 *   `/` between parts, no `..`. Resolved to its commit sha before anything is downloaded.
 * - `PATH`: `/`-separated, ending in `.gguf`; no empty, `.` or `..` part, no `:`, `@`, `\`, `?`, `#`.
 * - At most one `:` (before QUANT) and one `@` (before REVISION); a path takes no QUANT.
 *
 * `hf:` is reserved: a store name cannot start with it. A `SCHEME:REST` reference is a plugin's only when
 * a registry plugin of this run claims SCHEME: the run's lookup of the scheme (registry_lookup.ts) finds it
 * and passes it to {@link parseRef} as `schemes`; otherwise `SCHEME:REST` is a store name, and `SCHEME://…`
 * of an unknown scheme is `INVALID_REF` naming it.
 *
 * @example
 * ```ts
 * parseRef("hf:Qwen/Qwen3-0.6B-GGUF:q8_0"); // { kind: "hf", repo: "Qwen/Qwen3-0.6B-GGUF", quant: "Q8_0" }
 * parseRef("https://example.com/m.gguf#sha256=" + "ab".repeat(32)); // { kind: "url", … }
 * parseRef("stories260K"); // { kind: "name", name: "stories260K" }
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { assertModelName, isSha256Hex } from "../store/layout.ts";
import { type OciRef, parseOciBody } from "./oci/oci_ref.ts";

/** A parsed reference. */
export type ModelRef =
  | { kind: "url"; url: URL; sha256?: string; filename: string }
  | { kind: "file"; path: string }
  | { kind: "name"; name: string }
  | OciRef
  | {
    kind: "plugin";
    /** The scheme a registry plugin claims, without its colon. */
    scheme: string;
    /** Everything after the scheme's colon. */
    body: string;
    /** The whole reference, trimmed. */
    reference: string;
  }
  | {
    kind: "hf";
    /** `OWNER/REPO`. */
    repo: string;
    /** Upper-case quant tag (`Q4_K_M`); absent: the registry's default. */
    quant?: string;
    /** A file inside the repo (`sub/dir/m.gguf`); excludes `quant`. */
    path?: string;
    /** Branch, tag or commit as typed; absent: `main`. */
    revision?: string;
  };

/** A Hugging Face reference. */
export type HfRef = Extract<ModelRef, { kind: "hf" }>;

/** The accepted forms, for error messages and `--help`. */
export const REF_FORMS = [
  "hf:OWNER/REPO[:QUANT][@REVISION]",
  "hf:OWNER/REPO/PATH/FILE.gguf[@REVISION]",
  "hf.co/OWNER/REPO[:QUANT][@REVISION]",
  "https://HOST/PATH/FILE.gguf[#sha256=HEX]",
  "file:PATH",
  "oci://HOST[:PORT]/REPO:TAG",
  "oci://HOST[:PORT]/REPO@sha256:HEX",
  "NAME (a model in the store)",
  "SCHEME:REST (a registry plugin's scheme)",
];

function invalid(input: string, why: string): LodeError {
  return new LodeError("INVALID_REF", `invalid model reference "${input}": ${why}`, {
    details: { ref: input, accepted: REF_FORMS },
    hint: `Accepted forms: ${REF_FORMS.join(" | ")}`,
  });
}

const HF_PREFIX = /^(?:hf:|(?:hf\.co|huggingface\.co)\/)/i;
const REPO_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;
const QUANT = /^[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*$/;
const REVISION = /^[A-Za-z0-9_][A-Za-z0-9._-]*(?:\/[A-Za-z0-9._-]+)*$/;
// deno-lint-ignore no-control-regex -- control characters are exactly what a path part must not hold
const PATH_PART = /^[^\\/:@?#\x00-\x1f\x7f]+$/;

/** A plugin's reference. */
export type PluginRef = Extract<ModelRef, { kind: "plugin" }>;

/** Options of {@link parseRef}. */
export interface ParseRefOptions {
  /** The schemes registry plugins of this run claim (without colons). */
  schemes?: readonly string[];
}

const SCHEME = /^([a-z][a-z0-9+.-]*):(.*)$/;

function unknownScheme(input: string, scheme: string): LodeError {
  return new LodeError("INVALID_REF", `invalid model reference "${input}": unknown scheme "${scheme}"`, {
    details: { ref: input, scheme, accepted: REF_FORMS },
    hint: `No registry plugin claims ${scheme}:. Install one with \`lode plugin add DIR\`, or load one ` +
      `for this command with --plugin DIR. Accepted forms: ${REF_FORMS.join(" | ")}`,
  });
}

/** The schemes of the built-in forms (the built-in registries register them with the plugin driver). */
export const BUILTIN_FORM_SCHEMES: readonly string[] = ["hf", "http", "https", "file", "oci"];

/**
 * Whether `input` may be a registry plugin's reference: it starts with a scheme (`x:`) other than the
 * built-in forms' (`hf`, `http`, `https`, `file`, `oci`). Only then do the plugins need loading to parse it.
 */
export function mayBePluginRef(input: string): boolean {
  return pluginScheme(input) !== undefined;
}

/** The scheme of `input` (lower-cased) when it {@link mayBePluginRef may be a plugin's reference}. */
export function pluginScheme(input: string): string | undefined {
  const scheme = referenceScheme(input);
  return scheme !== undefined && !BUILTIN_FORM_SCHEMES.includes(scheme) ? scheme : undefined;
}

/** The scheme `input` starts with (`hf`, `https`, `mirror`, …), lower-cased, without its colon; undefined without one. */
export function referenceScheme(input: string): string | undefined {
  return /^\s*([a-z][a-z0-9+.-]*):/i.exec(input)?.[1]?.toLowerCase();
}

/** Parses a reference; `INVALID_REF` (listing the accepted forms) when it is none of them. */
export function parseRef(input: string, options: ParseRefOptions = {}): ModelRef {
  const ref = input.trim();
  if (ref === "") throw invalid(input, "it is empty");
  const claimed = SCHEME.exec(ref);
  if (claimed && options.schemes?.includes(claimed[1]!)) {
    if (!claimed[2]) throw invalid(input, `${claimed[1]}: needs something after the colon`);
    return { kind: "plugin", scheme: claimed[1]!, body: claimed[2], reference: ref };
  }
  if (/^hf:\/\//i.test(ref)) throw invalid(input, `unknown scheme "hf://" (write hf:OWNER/REPO, without //)`);
  if (HF_PREFIX.test(ref)) return parseHfRef(input, ref.replace(HF_PREFIX, ""));
  if (/^https?:\/\//i.test(ref)) return parseUrlRef(ref);
  if (/^oci:\/\//i.test(ref)) return parseOciBody(input, ref.slice(6));
  if (/^oci:/i.test(ref)) throw invalid(input, "an OCI reference is oci://HOST/REPO:TAG (with //)");
  if (ref.startsWith("file:")) {
    const path = ref.slice(5).replace(/^\/\/(?=\/)/, "");
    if (!path) throw invalid(input, "file: needs a path");
    return { kind: "file", path };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(ref);
  if (scheme) throw unknownScheme(input, scheme[1]!);
  try {
    return { kind: "name", name: assertModelName(ref) };
  } catch {
    throw invalid(input, "it is not a URL and not a valid model name");
  }
}

function parseHfRef(input: string, body: string): HfRef {
  const at = body.split("@");
  if (at.length > 2) throw invalid(input, "more than one @ (only one @REVISION is allowed)");
  const revision = at[1];
  if (revision !== undefined) {
    if (!revision) throw invalid(input, "@ must be followed by a revision (branch, tag or commit)");
    if (revision.length > 255 || !REVISION.test(revision) || revision.includes("..")) {
      throw invalid(input, `"${revision}" is not a valid revision (branch, tag or commit sha)`);
    }
  }
  const colon = at[0]!.split(":");
  if (colon.length > 2) throw invalid(input, "more than one : (only one :QUANT is allowed)");
  let quant = colon[1];
  if (quant !== undefined) {
    if (!quant) throw invalid(input, ": must be followed by a quant (Q4_K_M, Q8_0, …)");
    if (quant.length > 64 || !QUANT.test(quant)) {
      throw invalid(input, `"${quant}" is not a quant tag (letters, digits, _ and -, like Q4_K_M)`);
    }
    quant = quant.toUpperCase();
    if (quant === "LATEST") quant = undefined;
  }
  const parts = colon[0]!.split("/");
  const [owner, name] = parts;
  if (!owner) throw invalid(input, "the owner is empty (hf:OWNER/REPO)");
  if (name === undefined) throw invalid(input, "it needs OWNER/REPO");
  if (!name) throw invalid(input, "the repo name is empty (hf:OWNER/REPO)");
  for (const part of [owner, name]) {
    if (!REPO_PART.test(part) || part.includes("--") || part.includes("..")) {
      throw invalid(input, `"${part}" is not a valid Hugging Face owner or repo name`);
    }
  }
  const repo = `${owner}/${name}`;
  if (parts.length === 2) {
    return { kind: "hf", repo, ...(quant ? { quant } : {}), ...(revision ? { revision } : {}) };
  }
  const segments = parts.slice(2);
  for (const s of segments) {
    if (!s || s === "." || s === ".." || !PATH_PART.test(s)) {
      throw invalid(input, `the file path has an invalid part "${s}"`);
    }
  }
  const path = segments.join("/");
  if (!/\.gguf$/i.test(path)) throw invalid(input, "a file path must name a .gguf file");
  if (colon[1] !== undefined) throw invalid(input, "a file path takes no :QUANT (the file is the quant)");
  return { kind: "hf", repo, path, ...(revision ? { revision } : {}) };
}

/** The canonical text of a Hugging Face reference (`hf:` form), for plans and lockfiles. */
export function formatHfRef(ref: HfRef): string {
  const what = ref.path ? `/${ref.path}` : ref.quant ? `:${ref.quant}` : "";
  return `hf:${ref.repo}${what}${ref.revision ? `@${ref.revision}` : ""}`;
}

function parseUrlRef(ref: string): ModelRef {
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    throw invalid(ref, "it is not a valid URL");
  }
  let sha256: string | undefined;
  if (url.hash) {
    const m = /^#sha256=([0-9a-fA-F]+)$/.exec(url.hash);
    if (!m || !isSha256Hex(m[1]!.toLowerCase())) {
      throw invalid(ref, "the fragment must be #sha256= followed by 64 hex digits");
    }
    sha256 = m[1]!.toLowerCase();
    url.hash = "";
  }
  if (url.username || url.password) {
    throw invalid(ref, "credentials in the URL would be stored in the manifest; use a token header instead");
  }
  let filename: string;
  try {
    filename = decodeURIComponent(url.pathname.split("/").pop() ?? "");
  } catch {
    throw invalid(ref, "the file name is not valid percent-encoding");
  }
  if (!filename) throw invalid(ref, "the URL does not name a file");
  if (/[\/\\]/.test(filename) || filename === "." || filename === "..") {
    throw invalid(ref, "the file name must not contain path separators");
  }
  return { kind: "url", url, sha256, filename };
}

/** The `--sha256` option, lower-cased; `USAGE` when it is not 64 hex digits. */
export function parseSha256Flag(flag: string | undefined): string | undefined {
  const hex = flag?.toLowerCase();
  if (hex !== undefined && !isSha256Hex(hex)) {
    throw new LodeError("USAGE", `--sha256 must be 64 hex digits, got "${flag}"`);
  }
  return hex;
}

/** A store name derived from a file name: `Qwen3-0.6B-Q8_0.gguf` → `Qwen3-0.6B-Q8_0`. */
export function nameFromFilename(filename: string): string {
  const stem = filename.replace(/\.gguf$/i, "").replace(/[^A-Za-z0-9._:-]+/g, "-").replace(
    /^[^A-Za-z0-9]+/,
    "",
  ).replace(/^hf:/i, "hf-"); // hf: would read as a Hugging Face reference
  return assertModelName(stem.slice(0, 128) || "model");
}

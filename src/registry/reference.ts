/**
 * Model references: what a user types to name a model, parsed once into a
 * typed value. Accepted forms:
 *
 * | form                                   | meaning                                      |
 * | -------------------------------------- | -------------------------------------------- |
 * | `https://HOST/PATH/FILE.gguf`          | a file over https                            |
 * | `https://…/FILE.gguf#sha256=HEX`       | the same, pinned to a SHA-256                |
 * | `http://…`                             | only for hosts allowed with `--allow-http`   |
 * | `file:PATH`                            | a local file (imported, hashed on the way)   |
 * | `NAME`                                 | a model already in the store                 |
 *
 * @example
 * ```ts
 * parseRef("https://example.com/m.gguf#sha256=" + "ab".repeat(32)); // { kind: "url", … }
 * parseRef("stories260K"); // { kind: "name", name: "stories260K" }
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { assertModelName, isSha256Hex } from "../store/mod.ts";

/** A parsed reference. */
export type ModelRef =
  | { kind: "url"; url: URL; sha256?: string; filename: string }
  | { kind: "file"; path: string }
  | { kind: "name"; name: string };

/** The accepted forms, for error messages and `--help`. */
export const REF_FORMS = [
  "https://HOST/PATH/FILE.gguf[#sha256=HEX]",
  "file:PATH",
  "NAME (a model in the store)",
];

function invalid(input: string, why: string): LodeError {
  return new LodeError("INVALID_REF", `invalid model reference "${input}": ${why}`, {
    details: { ref: input, accepted: REF_FORMS },
    hint: `Accepted forms: ${REF_FORMS.join(" | ")}`,
  });
}

/** Parses a reference; `INVALID_REF` (listing the accepted forms) when it is none of them. */
export function parseRef(input: string): ModelRef {
  const ref = input.trim();
  if (ref === "") throw invalid(input, "it is empty");
  if (/^https?:\/\//i.test(ref)) return parseUrlRef(ref);
  if (ref.startsWith("file:")) {
    const path = ref.slice(5).replace(/^\/\/(?=\/)/, "");
    if (!path) throw invalid(input, "file: needs a path");
    return { kind: "file", path };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(ref);
  if (scheme) throw invalid(input, `unknown scheme "${scheme[1]}"`);
  try {
    return { kind: "name", name: assertModelName(ref) };
  } catch {
    throw invalid(input, "it is not a URL and not a valid model name");
  }
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

/** A store name derived from a file name: `Qwen3-0.6B-Q8_0.gguf` → `Qwen3-0.6B-Q8_0`. */
export function nameFromFilename(filename: string): string {
  const stem = filename.replace(/\.gguf$/i, "").replace(/[^A-Za-z0-9._:-]+/g, "-").replace(
    /^[^A-Za-z0-9]+/,
    "",
  );
  return assertModelName(stem.slice(0, 128) || "model");
}

/**
 * A stored model's chat template file: the `chat_template` file of its manifest (an OCI artifact's
 * template layer, a Jinja text), read from its blob so that a load renders chats with it instead of the
 * template in the GGUF header (as Docker Model Runner does).
 *
 * @example
 * ```ts
 * import { ModelStore } from "./model_store.ts";
 * import { readChatTemplate } from "./chat_template.ts";
 * const store = await ModelStore.open("/srv/models");
 * const template = await readChatTemplate(store.layout, await store.getManifest("smollm"));
 * console.log(template?.name); // e.g. `template.jinja of model "smollm"`
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";
import { parseBlobRef, type StoreLayout } from "./layout.ts";
import type { Manifest } from "./manifest.ts";

/** The manifest file role of a model's Jinja chat template. */
export const CHAT_TEMPLATE_ROLE = "chat_template";

/** Longest chat template read (real ones are a few KiB). */
export const MAX_CHAT_TEMPLATE_BYTES = 1024 * 1024;

/**
 * A stored chat template: its text, what errors call it, and its blob's path.
 *
 * @example
 * ```ts
 * import type { StoredChatTemplate } from "./chat_template.ts";
 * const show = (t: StoredChatTemplate) => `${t.name}: ${t.text.length} characters`;
 * ```
 */
export interface StoredChatTemplate {
  text: string;
  /** `FILENAME of model "NAME"`. */
  name: string;
  path: string;
}

/**
 * The chat template `manifest` lists (its first `chat_template` file), or undefined when it lists none.
 * A missing blob is `BLOB_MISSING`; a file too large or not UTF-8 text is `MODEL_LOAD_FAILED`, naming it.
 */
export async function readChatTemplate(
  layout: Pick<StoreLayout, "blobPath">,
  manifest: Manifest,
): Promise<StoredChatTemplate | undefined> {
  const file = manifest.files?.find((f) => f.role === CHAT_TEMPLATE_ROLE);
  if (file === undefined) return undefined;
  const hex = parseBlobRef(file.blob);
  const name = `${file.filename.slice(file.filename.lastIndexOf("/") + 1)} of model "${manifest.name}"`;
  const details = { name: manifest.name, filename: file.filename, blob: file.blob };
  if (hex === null) {
    throw new LodeError("MANIFEST_INVALID", `the chat template ${name} names no blob (${file.blob})`, {
      details,
    });
  }
  const path = layout.blobPath(hex);
  if (file.size_bytes > MAX_CHAT_TEMPLATE_BYTES) {
    throw new LodeError(
      "MODEL_LOAD_FAILED",
      `the chat template ${name} has ${file.size_bytes} bytes, more than a chat template's ${MAX_CHAT_TEMPLATE_BYTES}`,
      { details: { ...details, path } },
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new LodeError(
        "BLOB_MISSING",
        `model "${manifest.name}" names blob ${hex.slice(0, 12)}… which is missing`,
        {
          details: { ...details, path },
          cause: e,
        },
      );
    }
    throw new LodeError("IO", `cannot read the chat template ${name} (${path}): ${String(e)}`, {
      details: { ...details, path },
      cause: e,
    });
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw new LodeError("MODEL_LOAD_FAILED", `the chat template ${name} is not UTF-8 text`, {
      details: { ...details, path },
      cause: e,
    });
  }
  return { text, name, path };
}

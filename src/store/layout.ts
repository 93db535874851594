/**
 * Where everything lives in a store (shared with other tools that use `$MODELS_HOME`):
 *
 * ```text
 * $MODELS_HOME/
 *   blobs/sha256/<aa>/<hex>/data          committed, verified bytes
 *   blobs/sha256/<aa>/.partial-<hex>/     bytes on their way in
 *   manifests/<name>.json                 one per model, written last
 *   locks/<name>.lock                     per-name exclusive lock
 *   locks/quarantine/                     bytes that failed verification, with a JSON record
 * ```
 *
 * @example
 * ```ts
 * const layout = new StoreLayout("/srv/models");
 * layout.blobPath("270cba…"); // /srv/models/blobs/sha256/27/270cba…/data
 * ```
 * @module
 */
import { joinPath } from "../path.ts";
import { LodeError } from "../errors.ts";

const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** True when `hex` is a lowercase 64-digit SHA-256. */
export function isSha256Hex(hex: string): boolean {
  return HEX64.test(hex);
}

/** Throws `INVALID_REF` unless `name` is a valid model name (letters, digits, `._:-`, at most 128). */
export function assertModelName(name: string): string {
  if (!NAME.test(name)) {
    throw new LodeError("INVALID_REF", `"${name}" is not a valid model name`, {
      details: { name },
      hint:
        "A model name starts with a letter or digit and holds only letters, digits and . _ : - (max 128).",
    });
  }
  // `hf:NAME` always parses as a Hugging Face reference, so a store name so spelled could never be named.
  if (/^hf:/i.test(name)) {
    throw new LodeError(
      "INVALID_REF",
      `"${name}" cannot be a model name: hf: starts a Hugging Face reference`,
      {
        details: { name },
        hint: "Choose a name without the hf: prefix (--name).",
      },
    );
  }
  return name;
}

function assertHex(hex: string): string {
  if (!isSha256Hex(hex)) throw new LodeError("INTERNAL", `not a sha256 hex digest: ${hex}`);
  return hex;
}

/** Pure path arithmetic for one store root; touches no files. */
export class StoreLayout {
  /** Absolute path of the store root. */
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get blobsDir(): string {
    return joinPath(this.root, "blobs", "sha256");
  }
  get manifestsDir(): string {
    return joinPath(this.root, "manifests");
  }
  get locksDir(): string {
    return joinPath(this.root, "locks");
  }
  get quarantineDir(): string {
    return joinPath(this.root, "locks", "quarantine");
  }

  /** Directory that holds the blob `hex`. */
  blobDir(hex: string): string {
    return joinPath(this.blobsDir, assertHex(hex).slice(0, 2), hex);
  }
  /** The committed bytes of blob `hex`. */
  blobPath(hex: string): string {
    return joinPath(this.blobDir(hex), "data");
  }
  /** Directory holding the partial download of blob `hex`. */
  partialDir(hex: string): string {
    return joinPath(this.blobsDir, assertHex(hex).slice(0, 2), `.partial-${hex}`);
  }
  /**
   * Directory for a download whose hash is not known in advance: keyed by the
   * sha256 of its source URL (`key`), under the `un` shard so it never collides with a blob.
   */
  unpinnedPartialDir(key: string): string {
    return joinPath(this.blobsDir, "un", `.partial-${assertHex(key)}`);
  }
  manifestPath(name: string): string {
    return joinPath(this.manifestsDir, `${assertModelName(name)}.json`);
  }
  nameLockPath(name: string): string {
    return joinPath(this.locksDir, `${assertModelName(name)}.lock`);
  }
  /** Lock guarding the bytes of one blob, taken after a name lock (never the other way round). */
  blobLockPath(hex: string): string {
    return joinPath(this.locksDir, `sha256-${assertHex(hex)}.lock`);
  }
}

/** `sha256:<hex>`, the manifest's blob reference. */
export function formatBlobRef(hex: string): string {
  return `sha256:${hex}`;
}

/** The hex of a `sha256:<hex>` reference, or `null` when it is not one. */
export function parseBlobRef(ref: string): string | null {
  const hex = ref.startsWith("sha256:") ? ref.slice(7) : "";
  return isSha256Hex(hex) ? hex : null;
}

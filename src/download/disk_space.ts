/**
 * Disk-space preflight: refuse a download that
 * would leave less than a cushion of free space, before writing a byte.
 *
 * @example
 * ```ts
 * await checkDiskSpace("/srv/models", { neededBytes: 4e9, cushionBytes: 512 * 2 ** 20 });
 * ```
 * @module
 */
import { parentDir } from "../path.ts";
import { LodeError } from "../errors.ts";

/** Default free space to keep beyond the download itself. */
export const DEFAULT_CUSHION_BYTES = 512 * 1024 * 1024;

/** Free bytes available to this user on the filesystem holding `path` (or its nearest existing parent). */
export async function freeBytes(path: string): Promise<number | null> {
  // Imported here, not at the top: node:fs costs start-up time that `lode ls` must not pay.
  const { statfs } = await import("node:fs/promises");
  let probe = path;
  for (let i = 0; i < 64; i++) {
    try {
      const s = await statfs(probe);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      const parent = parentDir(probe);
      if (parent === probe) return null;
      probe = parent;
    }
  }
  return null;
}

/** Throws `INSUFFICIENT_SPACE` when `neededBytes` plus the cushion do not fit. Unknown sizes pass. */
export async function checkDiskSpace(
  path: string,
  options: { neededBytes: number | null; cushionBytes?: number },
): Promise<void> {
  if (!options.neededBytes) return;
  const available = await freeBytes(path);
  if (available === null) return;
  const cushion = options.cushionBytes ?? DEFAULT_CUSHION_BYTES;
  if (available < options.neededBytes + cushion) {
    const mib = (n: number) => `${Math.ceil(n / 2 ** 20)} MiB`;
    throw new LodeError(
      "INSUFFICIENT_SPACE",
      `not enough disk space at ${path}: need ${mib(options.neededBytes)} and ${
        mib(cushion)
      } kept free (LODE_MIN_FREE_BYTES), have ${mib(available)}`,
      {
        details: {
          path,
          needed_bytes: options.neededBytes,
          cushion_bytes: cushion,
          available_bytes: available,
        },
      },
    );
  }
}

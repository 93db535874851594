/**
 * One webhook's spool shared by several lode processes (a `lode serve` and a `lode pull` with the same
 * webhook): the webhook's directory holds numbered slots (`0/`, `1/`, …), each a {@link Spool} owned
 * by the process holding its `lock` (an exclusive `flock`, released when the process ends, however it
 * ends). A process takes the first free slot, then adopts the messages of every other free slot (left
 * by processes that have ended), so a restart delivers them all.
 *
 * @example
 * ```ts
 * import { openSpoolSlot } from "./spool_slots.ts";
 * const spool = await openSpoolSlot(await Deno.makeTempDir(), { maxBytes: 1 << 20 });
 * await spool.close();
 * ```
 * @module
 */
import { joinPath } from "../../src/path.ts";
import { Spool } from "./spool.ts";

async function tryLockSlot(dir: string): Promise<Deno.FsFile | null> {
  await Deno.mkdir(dir, { recursive: true });
  const file = await Deno.open(joinPath(dir, "lock"), { read: true, write: true, create: true });
  if (await file.tryLock(true)) return file;
  file.close();
  return null;
}

/** This process's spool in the webhook directory `dir`, with the leftovers of ended processes adopted. */
export async function openSpoolSlot(dir: string, options: { maxBytes: number }): Promise<Spool> {
  let spool: Spool | null = null;
  let mine = 0;
  for (; spool === null; mine++) {
    const slot = joinPath(dir, String(mine));
    const lock = await tryLockSlot(slot);
    if (lock) spool = await Spool.open(slot, { maxBytes: options.maxBytes, lock });
  }
  mine--;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory || !/^\d+$/.test(entry.name) || Number(entry.name) === mine) continue;
    const slot = joinPath(dir, entry.name);
    const lock = await tryLockSlot(slot);
    if (!lock) continue; // another running process's slot
    const other = await Spool.open(slot, { maxBytes: Number.MAX_SAFE_INTEGER, lock });
    try {
      const items = other.items();
      let adopted = 0;
      while (adopted < items.length && spool.add(items[adopted]!)) adopted++;
      await spool.flush();
      // What did not fit stays in the other slot for a later run.
      for (let i = 0; i < adopted; i++) await other.ack();
    } finally {
      await other.close();
    }
  }
  return spool;
}

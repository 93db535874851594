import assert from "node:assert/strict";
import { Spool } from "./spool.ts";
import { openSpoolSlot } from "./spool_slots.ts";

async function withDir(t: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lode-spool-" });
  try {
    await t(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("spool: what was not acknowledged is there after a reopen, in order", async () => {
  await withDir(async (dir) => {
    const spool = await Spool.open(dir, { maxBytes: 1 << 20 });
    for (let i = 1; i <= 5; i++) assert.ok(spool.add({ id: `msg_${i}`, body: `{"n":${i}}` }));
    await spool.flush();
    await spool.ack();
    await spool.ack();
    await spool.close();
    const again = await Spool.open(dir, { maxBytes: 1 << 20 });
    assert.equal(again.length, 3);
    assert.deepEqual(again.first, { id: "msg_3", body: '{"n":3}' });
    await again.ack();
    await again.ack();
    await again.ack();
    assert.equal(again.length, 0);
    await again.close();
    const empty = await Spool.open(dir, { maxBytes: 1 << 20 });
    assert.equal(empty.length, 0);
    await empty.close();
    const files = [...Deno.readDirSync(dir)].map((f) => f.name).sort();
    assert.equal(files.length, 2, `one events file and the offset: ${files}`);
  });
});

Deno.test("spool: a line torn by a crash is skipped; unflushed adds are written by close", async () => {
  await withDir(async (dir) => {
    const spool = await Spool.open(dir, { maxBytes: 1 << 20 });
    spool.add({ id: "msg_1", body: "{}" });
    await spool.close(); // flushes
    const file = [...Deno.readDirSync(dir)].find((f) => f.name.startsWith("events-"))!.name;
    await Deno.writeTextFile(`${dir}/${file}`, '{"id":"msg_2","bo', { append: true });
    const again = await Spool.open(dir, { maxBytes: 1 << 20 });
    assert.equal(again.length, 1);
    again.add({ id: "msg_3", body: "{}" });
    await again.close();
    const third = await Spool.open(dir, { maxBytes: 1 << 20 });
    assert.deepEqual([third.first?.id, third.length], ["msg_1", 2]);
    await third.close();
  });
});

Deno.test("spool: bounded — an add past maxBytes is refused; clear forgets everything", async () => {
  await withDir(async (dir) => {
    const spool = await Spool.open(dir, { maxBytes: 100 });
    let accepted = 0;
    for (let i = 0; i < 10; i++) if (spool.add({ id: `msg_${i}`, body: "x".repeat(10) })) accepted++;
    assert.ok(accepted > 0 && accepted < 10, `accepted ${accepted}`);
    assert.equal(spool.length, accepted);
    await spool.ack();
    assert.ok(spool.add({ id: "msg_late", body: "x".repeat(10) }), "an ack makes room");
    await spool.clear();
    assert.equal(spool.length, 0);
    await spool.close();
    const again = await Spool.open(dir, { maxBytes: 100 });
    assert.equal(again.length, 0);
    await again.close();
  });
});

Deno.test("spool slots: a second process takes the next slot; a later run adopts what ended processes left", async () => {
  await withDir(async (dir) => {
    const a = await openSpoolSlot(dir, { maxBytes: 1 << 20 });
    const b = await openSpoolSlot(dir, { maxBytes: 1 << 20 }); // a is still open: b gets slot 1
    assert.deepEqual([...Deno.readDirSync(dir)].map((f) => f.name).sort(), ["0", "1"]);
    a.add({ id: "msg_a", body: "{}" });
    b.add({ id: "msg_b", body: "{}" });
    await b.close();
    // b ended: a third opener (a still running) takes slot 1 again and finds msg_b there.
    const c = await openSpoolSlot(dir, { maxBytes: 1 << 20 });
    assert.deepEqual(c.items().map((i) => i.id), ["msg_b"]);
    await c.close();
    await a.close();
    // Both ended: the next run holds slot 0 and adopts slot 1's message.
    const d = await openSpoolSlot(dir, { maxBytes: 1 << 20 });
    assert.deepEqual(d.items().map((i) => i.id), ["msg_a", "msg_b"]);
    await d.close();
    const e = await openSpoolSlot(dir, { maxBytes: 1 << 20 });
    assert.deepEqual(e.items().map((i) => i.id), ["msg_a", "msg_b"], "adopted once, not twice");
    await e.close();
  });
});

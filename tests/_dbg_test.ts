import { downloadToPartial } from "../src/download/parallel_download.ts";
import { ConnectionBudget } from "../src/download/connection_budget.ts";
import { withEngine, randomBody, FIRST_PART, PART, sleep, getsOf } from "./support/engine_world.ts";
const BODY = randomBody(FIRST_PART + 16 * PART + 1000);
Deno.test({name: "dbg", fn: async () => {
  const clean = { body: BODY, etag: '"v"' };
  await withEngine({ "/f": { handler: async () => { await sleep(30); return clean; } } }, async (w) => {
    const t0 = Date.now();
    const log: string[] = [];
    let id = 0;
    class Spy extends ConnectionBudget {
      override async run<T>(task: () => Promise<T>): Promise<T> {
        const me = ++id; log.push(`${Date.now()-t0} want ${me}`);
        return await super.run(async () => { log.push(`${Date.now()-t0} got ${me}`); try { return await task(); } finally { log.push(`${Date.now()-t0} release ${me}`); } });
      }
    }
    await downloadToPartial(`${w.origin.url}/f`, w.partial(), w.options({ connections: 2, budget: new Spy(2), onProgress: (b) => log.push(`${Date.now()-t0} progress ${b}`) }));
    for (const g of getsOf(w.origin, "/f")) log.push(`${g.time - t0} GET ${g.headers.range} conn=${g.connection}`);
    console.log(log.sort((a, b) => parseInt(a) - parseInt(b)).slice(0, 30).join("\n"));
  });
}});

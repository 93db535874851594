/**
 * A free TCP port on 127.0.0.1 for a server a test starts (`lode serve --http 127.0.0.1:PORT`, a registry,
 * a proxy), and the wait until an OpenAI front on it answers.
 *
 * @example
 * ```ts
 * import { freePort, untilUp } from "./free_port.ts";
 * const port = freePort();
 * // start `lode serve --http 127.0.0.1:${port}` here
 * await untilUp(`http://127.0.0.1:${port}/v1`);
 * ```
 * @module
 */

/** A port no listener holds now (the OS's choice for port 0, released at once). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Resolves once `${url}/models` answers 2xx; throws after ~20 s of refusals. */
export async function untilUp(url: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const ok = await fetch(`${url}/models`).then((r) => r.body?.cancel().then(() => r.ok)).catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

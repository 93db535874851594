/**
 * A stand-in runner for tests of the daemon's end of the runner protocol: it connects to the socket given
 * as `--socket PATH` like `lode __runner`, then misbehaves as its first argument says: `silent` says no
 * hello; `other_version` says a hello of protocol 99 only; `few_features` a hello without the runner's
 * features. It stays connected until the daemon closes the connection or kills it.
 *
 * @example
 * ```sh
 * deno run -A tests/support/fake_runner.ts silent --socket /tmp/lode-runner-x/runner.sock
 * ```
 * @module
 */
if (import.meta.main) {
  const mode = Deno.args[0];
  const path = Deno.args[Deno.args.indexOf("--socket") + 1]!;
  const conn = await Deno.connect({ transport: "unix", path });
  const hello = (protocol: number[], features: string[]) =>
    JSON.stringify({
      type: "hello",
      protocol,
      api_version: 1,
      name: "fake",
      version: "0",
      hooks: ["backend"],
      features,
    }) +
    "\n";
  if (mode === "other_version") await conn.write(new TextEncoder().encode(hello([99], ["cancel"])));
  if (mode === "few_features") await conn.write(new TextEncoder().encode(hello([1], ["cancel", "progress"])));
  for await (const _ of conn.readable); // reads what the daemon says until it goes away
}

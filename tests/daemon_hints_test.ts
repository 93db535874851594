/**
 * Whose settings a hint names when a daemon fails a request: a real `lode serve` (started without the
 * origin's CA) pulls a model its lockfile pins from a real HTTPS origin on loopback, for a client that
 * passed `--ca-cert`. The certificate check is the daemon's, so the hint says to start `lode serve` with
 * `--ca-cert` (or DENO_CERT), never to pass the flag the client already passed.
 */
import assert from "node:assert/strict";
import { makeTestCa } from "./support/test_ca.ts";
import { startOrigin } from "./support/origin.ts";
import { runLode } from "./support/lode_cli.ts";
import { startServe, STORIES_FILE } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { writeStoriesLockfile } from "./support/stories_lockfile.ts";

Deno.test("a daemon that does not trust an origin's certificate: the client's hint names lode serve --ca-cert", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const origin = await startOrigin({ tls: ca, routes: { "/m/stories260K.gguf": { file: STORIES_FILE } } });
    const url = `${origin.url}/m/stories260K.gguf`;
    const lockfile = `${dir}/lode.lock`;
    await writeStoriesLockfile(lockfile, url);
    const store = `${dir}/store`;
    const daemon = await startServe(dir, store, ["--lockfile", lockfile]);
    try {
      const args = [
        "--ca-cert",
        ca.caCertPath,
        "run",
        "stories260K",
        "hi",
        "-n",
        "4",
        "--socket",
        daemon.socket,
      ];
      const text = await runLode(args, { store });
      assert.equal(text.code, 5, text.stderr);
      assert.match(text.stderr, /error\[TLS\]: TLS to 127\.0\.0\.1:\d+ failed/);
      assert.match(text.stderr, /hint: The daemon does not trust the server's certificate/);
      assert.match(text.stderr, /Start `lode serve` with --ca-cert FILE \(or DENO_CERT in its environment/);
      assert.doesNotMatch(text.stderr, /hint: The server's certificate is not trusted\. Pass --ca-cert/);
      const json = await runLode([...args, "--json"], { store });
      const error = json.events.find((e) => e.event === "error");
      assert.equal(error?.code, "TLS", json.stdout);
      assert.match(String(error?.hint), /lode serve` with --ca-cert/);
      // The same pull in the client's own process is the client's: there its --ca-cert is the remedy.
      const direct = await runLode(["pull", url, "--name", "direct"], { store });
      assert.equal(direct.code, 5);
      assert.match(direct.stderr, /hint: The server's certificate is not trusted\. Pass --ca-cert FILE/);
    } finally {
      await daemon.stop();
      await origin.close();
    }
  }, { prefix: "lode-daemon-hints-" });
});

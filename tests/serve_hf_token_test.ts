/**
 * `lode serve` pulls with its own environment's HF_TOKEN, never the client's (src/daemon/router/model_provider.ts):
 * a real daemon, the real CLI as client, a fake Hugging Face Hub on loopback serving a gated repo.
 */
import assert from "node:assert/strict";
import { runLode } from "./support/lode_cli.ts";
import { FrameClient } from "./support/frame_client.ts";
import { makeTestCa } from "./support/test_ca.ts";
import { startFakeHub } from "./support/fake_hub.ts";
import { startServe, STORIES_FILE } from "./support/serve_process.ts";
import { withTempDir } from "./support/temp_dir.ts";

const STORIES = await Deno.readFile(STORIES_FILE);
const STORY =
  ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";
const RUN = ["Once upon a time", "-t", "0", "-n", "40"];

const HF_TOKEN = "hf_DaemonTokenDoNotLeak0123456789";

Deno.test("lode serve pulls with its own HF_TOKEN, never the client's: a gated repo is pulled for a client without a token; a daemon without one answers ACCESS_DENIED saying where to set it, and stays up", async () => {
  await withTempDir(async (dir) => {
    const ca = await makeTestCa(`${dir}/ca`);
    const hub = await startFakeHub(ca, [{
      repo: "tiny/gated-GGUF",
      gated: "manual",
      tokens: [HF_TOKEN],
      files: [{ path: "gated-Q4_K_M.gguf", bytes: STORIES }],
    }]);
    const args = ["--ca-cert", ca.caCertPath, "--allow-host", hub.cdnHost];
    const run = (socket: string, env: Record<string, string>) =>
      runLode(["run", "hf:tiny/gated-GGUF", ...RUN, "--socket", socket], { store: `${dir}/client`, env });
    const authorizations = () => hub.hub.requests.map((r) => r.headers.authorization ?? "");
    try {
      // No token in the daemon's environment; the client has the right one, which is not used.
      await Deno.mkdir(`${dir}/a`);
      const without = await startServe(`${dir}/a`, `${dir}/store`, args, {
        env: { HF_ENDPOINT: hub.endpoint, HF_TOKEN: "" },
      });
      try {
        const refused = await run(without.socket, { HF_ENDPOINT: hub.endpoint, HF_TOKEN });
        assert.equal(refused.code, 6, refused.stderr);
        assert.match(refused.stderr, /error\[ACCESS_DENIED\]: .*it is gated/);
        assert.match(
          refused.stderr,
          /hint: Set HF_TOKEN .*The daemon pulls with its own environment, not the client's: set HF_TOKEN where `lode serve` starts, then restart it\./,
        );
        assert.ok(authorizations().every((a) => a === ""), "no token was sent");
        const c = await FrameClient.connect(without.socket);
        await c.write({ id: "h", op: "health" });
        assert.equal((await c.frames("h"))[0]!.status, "ready");
        c.close();
      } finally {
        const stopped = await without.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }

      // The daemon's token pulls it for a client that has none.
      await Deno.mkdir(`${dir}/b`);
      const daemon = await startServe(`${dir}/b`, `${dir}/store`, args, {
        env: { HF_ENDPOINT: hub.endpoint, HF_TOKEN },
      });
      try {
        const ran = await run(daemon.socket, { HF_TOKEN: "" });
        assert.equal(ran.code, 0, ran.stderr);
        assert.equal(ran.stdout, STORY + "\n");
        assert.ok(authorizations().includes(`Bearer ${HF_TOKEN}`), "the daemon's token went to the Hub");
        assert.ok(hub.cdn.requests.every((r) => r.headers.authorization === undefined), "never to the CDN");
      } finally {
        const stopped = await daemon.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      }
      const ls = await runLode(["ls"], { store: `${dir}/store` });
      assert.match(ls.stdout, /gated-Q4_K_M/);
    } finally {
      await hub.close();
    }
  });
});

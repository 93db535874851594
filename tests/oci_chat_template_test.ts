/**
 * A Docker Model Runner artifact's chat template layer renders the chats of the model lode pulled from it
 * (as Docker Model Runner does), against a real registry (Debian's docker-registry, TLS): stories260K, which
 * has no template of its own, pushed with a ChatML template layer and pulled with `lode pull oci://`, chats in
 * ChatML in `lode run` and through `lode serve` (render_chat); an artifact whose template does not render
 * fails the load with MODEL_LOAD_FAILED naming the template file, in both.
 */
import assert from "node:assert/strict";
import { ociRegistryMissing } from "./support/oci_registry.ts";
import { CREDS, pushDockerArtifact, STORIES, withRegistry, type World } from "./support/oci_world.ts";
import { startServe } from "./support/serve_process.ts";
import { CHATML_TEMPLATE } from "../scripts/gen_gguf.ts";
import { DaemonClient } from "../src/daemon/wire/client.ts";
import { isLodeError } from "../src/errors.ts";
import { freePort } from "./support/free_port.ts";

const missing = await ociRegistryMissing();
if (missing) console.log(`skipped: oci_chat_template_test.ts: ${missing}`);

/** Pushes stories260K with `template` as its Docker chat template layer to REPO:v1 and pulls it as `name`. */
async function pullWithTemplate(w: World, repo: string, name: string, template: string): Promise<void> {
  const { reg, lode } = w;
  await pushDockerArtifact(reg, repo, "v1", [
    { mediaType: "application/vnd.docker.ai.gguf.v3", bytes: STORIES },
    { mediaType: "application/vnd.docker.ai.chat.template.jinja", bytes: new TextEncoder().encode(template) },
  ]);
  const pulled = await lode(["pull", `oci://${reg.host}/${repo}:v1`, "--name", name], CREDS);
  assert.equal(pulled.code, 0, pulled.stderr + pulled.stdout);
}

/** The `done` event of a `lode run --json`. */
function doneEvent(stdout: string): { usage: { promptTokens: number } } {
  const line = stdout.split("\n").find((l) => l.includes('"event":"done"'));
  assert(line, stdout);
  return JSON.parse(line);
}

/** POST /v1/chat/completions of one user message "Hi" with `body`, once the HTTP front answers. */
async function chatCompletion(
  port: number,
  body: Record<string, unknown>,
): Promise<{ usage: { prompt_tokens: number } }> {
  const url = `http://127.0.0.1:${port}/v1/chat/completions`;
  const init = {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, messages: [{ role: "user", content: "Hi" }] }),
  };
  for (let attempt = 0;; attempt++) {
    try {
      const response = await fetch(url, init);
      assert.equal(response.status, 200);
      return await response.json();
    } catch (e) {
      if (!(e instanceof TypeError) || attempt > 400) throw e; // not listening yet
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

Deno.test({
  name:
    "oci chat template: a pulled artifact's template layer renders its chats in lode run and lode serve; one that does not render fails the load naming it",
  ignore: missing !== null,
  fn: () =>
    withRegistry("basic", async (w) => {
      await pullWithTemplate(w, "m/chatml", "chatml", CHATML_TEMPLATE);
      await pullWithTemplate(w, "m/broken", "broken", "{% for m in messages %}");
      const args = ["--no-daemon", "--threads", "1", "--gpu", "off", "-n", "2", "-t", "0", "--json"];

      // lode inspect names the stored template as the one in use (stories260K's GGUF has none).
      const inspected = await w.lode(["inspect", "chatml"]);
      assert.equal(inspected.code, 0, inspected.stderr);
      assert.match(inspected.stdout, /^chat template +template\.jinja, stored with the model \(used\)$/m);

      // lode run: the stored template makes stories260K a chat model; the prompt is the ChatML layout.
      const chat = await w.lode(["run", "chatml", "Hi", ...args]);
      assert.equal(chat.code, 0, chat.stderr);
      // With a template the model can be offered tools (stories260K alone cannot: no template, no tool syntax).
      assert.match(chat.stdout, /"status":"capabilities"[^\n]*"tools":true/);
      const raw = await w.lode(["run", "chatml", "Hi", ...args, "--raw"]);
      assert.equal(raw.code, 0, raw.stderr);
      const tokens = (r: typeof chat) => doneEvent(r.stdout).usage.promptTokens;
      // `<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n` is many tokens of this vocabulary; "Hi" a few.
      assert(tokens(chat) > tokens(raw) + 10, `${tokens(chat)} vs ${tokens(raw)}`);

      const failed = await w.lode(["run", "broken", "Hi", ...args]);
      assert.notEqual(failed.code, 0);
      assert.match(failed.stdout + failed.stderr, /MODEL_LOAD_FAILED/);
      assert.match(failed.stdout + failed.stderr, /template\.jinja of model \\?"broken\\?"/);

      // lode serve: the runner loads the stored template too.
      const port = freePort();
      const daemon = await startServe(w.dir, w.store, ["--http", `127.0.0.1:${port}`]);
      const client = await DaemonClient.connect(daemon.socket);
      try {
        const session = await client.session("chatml");
        assert.equal(session.info.hasChatTemplate, true);
        const rendered = await session.renderChat([{ role: "user", content: "Hi" }]);
        assert(rendered.includes("<|im_start|>user"), JSON.stringify(rendered));
        assert.equal(
          rendered.replaceAll(" ", ""),
          "<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        );
        // /v1/chat/completions renders the same ChatML prompt as `lode run` did.
        const completion = await chatCompletion(port, { model: "chatml", max_tokens: 2, temperature: 0 });
        assert.equal(completion.usage.prompt_tokens, tokens(chat));
        await assert.rejects(
          client.session("broken"),
          (e: unknown) => isLodeError(e, "MODEL_LOAD_FAILED") && /template\.jinja/.test(e.message),
        );
      } finally {
        client.close();
        await daemon.stop();
      }
    }),
});

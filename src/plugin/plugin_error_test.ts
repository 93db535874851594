import assert from "node:assert/strict";
import { failedError } from "./plugin_error.ts";

Deno.test("failedError: a catalogue code the plugin names is raised, tagged; another is PLUGIN_FAILED", () => {
  const e = failedError("openai_backend", "session.generate", {
    kind: "failed",
    code: "CONTEXT_LENGTH_EXCEEDED",
    message: "the prompt has 600 tokens; the context has 512",
    details: { prompt_tokens: 600, context_size: 512 },
  });
  assert.equal(e.code, "CONTEXT_LENGTH_EXCEEDED");
  assert.equal(
    e.message,
    "plugin openai_backend (session.generate): the prompt has 600 tokens; the context has 512",
  );
  assert.deepEqual(e.details, {
    prompt_tokens: 600,
    context_size: 512,
    kind: "failed",
    plugin: "openai_backend",
    hook: "session.generate",
  });
  const unknown = failedError("p", "session.embed", { kind: "failed", code: "E_WHATEVER", message: "no" });
  assert.equal(unknown.code, "PLUGIN_FAILED");
  assert.equal(unknown.details.plugin_code, "E_WHATEVER");
  assert.equal(failedError("p", "h", { kind: "bad_request", message: "no" }).code, "PLUGIN_FAILED");
  // The plugin cannot overwrite the tag.
  const spoofed = failedError("p", "h", {
    kind: "failed",
    code: "USAGE",
    message: "x",
    details: { plugin: "other" },
  });
  assert.equal(spoofed.details.plugin, "p");
});

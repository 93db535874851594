import assert from "node:assert/strict";
import { earlyPlugins, earlyPluginSchemes } from "./early_plugins.ts";

Deno.test("a pull in this process starts the plugins of its references' schemes, lower-cased, built-ins left out", () => {
  assert.deepEqual(
    earlyPluginSchemes("pull", { ref: ["Mirror:tiny", "hf:o/r", "https://x/y.gguf", "table:a", "tiny"] }, {}),
    ["mirror", "table"],
  );
});

Deno.test("a pull in the daemon, another command or a pull of built-in references starts none", () => {
  assert.deepEqual(earlyPluginSchemes("pull", { ref: ["mirror:tiny"] }, { socket: "/run/lode.sock" }), []);
  assert.deepEqual(earlyPluginSchemes("pull", { ref: ["mirror:tiny"] }, { detach: true }), []);
  assert.deepEqual(earlyPluginSchemes("run", { model: "mirror:tiny" }, { socket: "/run/lode.sock" }), []);
  assert.deepEqual(earlyPluginSchemes("lock", { action: "rm", target: "mirror:tiny" }, {}), []);
  assert.deepEqual(earlyPluginSchemes("sync", { name: ["mirror:tiny"] }, {}), []);
  assert.deepEqual(earlyPluginSchemes("ls", { ref: ["mirror:tiny"] }, {}), []);
  assert.deepEqual(earlyPluginSchemes("pull", { ref: ["hf:o/r:Q8_0", "file:/m.gguf"] }, {}), []);
});

Deno.test("lock add and run, chat, embed in this process start the plugin of their reference's scheme", () => {
  assert.deepEqual(earlyPluginSchemes("lock", { action: "add", target: "mirror:tiny" }, {}), ["mirror"]);
  for (const command of ["run", "chat", "embed"]) {
    assert.deepEqual(earlyPluginSchemes(command, { model: "mirror:tiny", prompt: "hi" }, {}), ["mirror"]);
    assert.deepEqual(earlyPluginSchemes(command, { model: "tiny" }, {}), []);
  }
});

Deno.test("no scheme, nothing started or imported", () => {
  assert.deepEqual(earlyPlugins([], undefined, {}), undefined);
});

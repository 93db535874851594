import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { API_VERSION, PROTOCOL_VERSIONS } from "./api.ts";
import { agreeHello, hostHello } from "./plugin_hello.ts";
import { HOST_FEATURES, type PluginHello } from "./plugin_protocol.ts";

const theirs = (over: Partial<PluginHello> = {}): PluginHello => ({
  type: "hello",
  protocol: [...PROTOCOL_VERSIONS],
  api_version: API_VERSION,
  name: "mirror",
  version: "0.1.0",
  hooks: ["registry.resolve"],
  features: [],
  ...over,
});

Deno.test("hostHello: this host's protocol versions, plugin API and features", () => {
  assert.deepEqual(hostHello(), {
    type: "hello",
    protocol: [...PROTOCOL_VERSIONS],
    api_version: API_VERSION,
    features: [...HOST_FEATURES],
    host: "lode",
  });
});

Deno.test("agreeHello: the highest version both speak and the features both list, unknown ones left out", () => {
  const agreed = agreeHello(
    "mirror",
    theirs({ protocol: [99, 1], features: ["progress", "cancel", "teleport"] }),
  );
  assert.ok(!(agreed instanceof LodeError));
  assert.equal(agreed.protocol, 1);
  assert.deepEqual([...agreed.features], ["cancel", "progress"]);
});

Deno.test("agreeHello: no version in common, or a newer plugin API, is PLUGIN_PROTOCOL naming both", () => {
  const version = agreeHello("mirror", theirs({ protocol: [99] }));
  assert.ok(version instanceof LodeError);
  assert.equal(version.code, "PLUGIN_PROTOCOL");
  assert.deepEqual([version.details.hook, version.details.theirs], ["hello", [99]]);
  assert.match(version.message, /^plugin mirror \(hello\): speaks protocol 99; this lode speaks 1$/);
  const api = agreeHello("mirror", theirs({ api_version: API_VERSION + 1 }));
  assert.ok(api instanceof LodeError);
  assert.equal(api.code, "PLUGIN_PROTOCOL");
  assert.match(api.message, new RegExp(`plugin API ${API_VERSION + 1}; this lode implements ${API_VERSION}`));
});

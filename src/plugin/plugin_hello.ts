/**
 * The hellos of a plugin process's stdio protocol (plugin_protocol.ts): the host's
 * ({@link hostHello}), and what the host and the plugin agree from the plugin's ({@link agreeHello}): the
 * highest protocol version both speak and the features both list, or `PLUGIN_PROTOCOL` when they speak
 * no version in common or the plugin was written for a newer plugin API than this host implements.
 *
 * @example
 * ```ts
 * import { agreeHello } from "./plugin_hello.ts";
 * const agreed = agreeHello("mirror", {
 *   type: "hello",
 *   protocol: [1],
 *   api_version: 1,
 *   name: "mirror",
 *   version: "0.1.0",
 *   hooks: ["registry.resolve"],
 *   features: ["cancel"],
 * });
 * // { protocol: 1, features: Set { "cancel" } }
 * ```
 * @module
 */
import type { LodeError } from "../errors.ts";
import { API_VERSION, PROTOCOL_VERSIONS } from "./api.ts";
import { pluginError } from "./plugin_error.ts";
import {
  commonFeatures,
  commonVersion,
  type Feature,
  HOST_FEATURES,
  type HostFrame,
  type PluginHello,
} from "./plugin_protocol.ts";

/** What the host and a plugin agree in their hellos. */
export interface HelloAgreement {
  /** The highest protocol version both speak. */
  protocol: number;
  /** The features both hellos list. */
  features: ReadonlySet<Feature>;
}

/** The host's hello: the protocol versions, plugin API and features this host speaks. */
export function hostHello(): HostFrame {
  return {
    type: "hello",
    protocol: [...PROTOCOL_VERSIONS],
    api_version: API_VERSION,
    features: [...HOST_FEATURES],
    host: "lode",
  };
}

/**
 * What the host agrees with plugin `name` saying `theirs`, or the `PLUGIN_PROTOCOL` error (hook `hello`)
 * when they speak no protocol version in common or its plugin API is newer than this host's.
 */
export function agreeHello(name: string, theirs: PluginHello): HelloAgreement | LodeError {
  const version = commonVersion(PROTOCOL_VERSIONS, theirs.protocol);
  if (version === null) {
    return pluginError(
      "PLUGIN_PROTOCOL",
      name,
      "hello",
      `speaks protocol ${theirs.protocol.join(", ")}; this lode speaks ${PROTOCOL_VERSIONS.join(", ")}`,
      { theirs: theirs.protocol, ours: PROTOCOL_VERSIONS },
    );
  }
  if (theirs.api_version > API_VERSION) {
    return pluginError(
      "PLUGIN_PROTOCOL",
      name,
      "hello",
      `was written for plugin API ${theirs.api_version}; this lode implements ${API_VERSION}`,
      { theirs: theirs.api_version, ours: API_VERSION },
    );
  }
  return { protocol: version, features: new Set(commonFeatures(HOST_FEATURES, theirs.features)) };
}

/**
 * What the OCI push and interop tests share on top of oci_world.ts: stories260K imported into the
 * world's store to be pushed, a push's `--json` events, the push library's effects over the world's
 * registry ({@link pushWorld}: OCI_USER's credentials, the test CA), and skopeo reading and writing the
 * registry as OCI_USER, trusting only its CA ({@link skopeoFor}).
 *
 * @example
 * ```ts
 * import { importStories, skopeoFor } from "./oci_push_world.ts";
 * import { CREDS, withRegistry } from "./oci_world.ts";
 * await withRegistry("basic", async (w) => {
 *   await importStories(w);
 *   await w.lode(["push", "stories260K", `oci://${w.reg.host}/m/stories:v1`], CREDS);
 *   const manifest = JSON.parse(await (await skopeoFor(w)).inspectRaw(`${w.reg.host}/m/stories:v1`));
 * });
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { storeEvents } from "./lode_cli.ts";
import { OCI_USER } from "./oci_registry.ts";
import type { World } from "./oci_world.ts";
import type { PushEffects } from "../../src/registry/oci/oci_push.ts";
import { type OciRef, parseOciBody } from "../../src/registry/oci/oci_ref.ts";
import type { ModelStore } from "../../src/store/model_store.ts";

/** tests/fixtures/stories260K.gguf. */
export const STORIES_PATH: string = new URL("../fixtures/stories260K.gguf", import.meta.url).pathname;

/** Imports stories260K into the world's store as `stories260K` (the model the push tests push). */
export async function importStories(w: Pick<World, "lode">): Promise<void> {
  const imported = await w.lode(["import", STORIES_PATH, "--name", "stories260K"]);
  assert.equal(imported.code, 0, imported.stderr);
}

/** A push's `--json` events (not its job's), each checked against src/events/store_event.ts. */
export function pushEvents(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split("\n").filter((l) => /^\{"event":"(push_|pushed|error)/.test(l.trim()));
  return storeEvents(lines.join("\n")) as unknown as Record<string, unknown>[];
}

/** The push library's side of the world's registry; closes its HTTP client when disposed. */
export interface PushWorld extends Disposable {
  /** Sends one request to the registry as lode's push does: redirects not followed, the test CA trusted. */
  send: PushEffects["send"];
  /** `oci://HOST/PATH` of the registry, parsed. */
  ref(path: string): OciRef;
  /** A push's effects: OCI_USER's credentials, {@link PushWorld.send} unless `send` is given, `emit`. */
  effects(over?: Partial<Pick<PushEffects, "send" | "emit">>): PushEffects;
}

/** The push library's side of the world's registry, pushing from `store`. */
export function pushWorld(w: Pick<World, "reg">, store: ModelStore): PushWorld {
  const client = Deno.createHttpClient({ caCerts: [w.reg.ca.caCertPem] });
  const send: PushEffects["send"] = (method, url, init) =>
    fetch(url, {
      method,
      headers: init.headers,
      body: init.body as BodyInit | undefined,
      redirect: "manual",
      client,
    });
  return {
    send,
    ref(path) {
      const body = `${w.reg.host}/${path}`;
      return parseOciBody(`oci://${body}`, body);
    },
    effects: (over = {}) => ({
      registry: {
        settings: { ociUsername: OCI_USER.username, ociPassword: OCI_USER.password },
        store,
        get: (url, init) => fetch(url, { ...init, client }),
      },
      send: over.send ?? send,
      emit: over.emit ?? (() => {}),
    }),
    [Symbol.dispose]: () => client.close(),
  };
}

/** Why skopeo cannot be run here, or null when it can. */
export async function skopeoMissing(): Promise<string | null> {
  try {
    await new Deno.Command("skopeo", { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return null;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "skopeo is not installed (apt-get install -y skopeo)";
    throw e;
  }
}

/** skopeo against the world's registry (see {@link skopeoFor}). */
export interface Skopeo {
  /** The manifest of `docker://REF` as the registry serves it. */
  inspectRaw(ref: string): Promise<string>;
  /** Copies `source` (skopeo's transport syntax, `oci:DIR:TAG`) to `docker://REF`. */
  copy(source: string, ref: string): Promise<void>;
}

/**
 * skopeo against the world's registry as OCI_USER, trusting only the registry's CA (skopeo trusts the
 * `*.crt` files of a directory: `DIR/certs` holds the CA's alone).
 */
export async function skopeoFor(w: Pick<World, "reg" | "dir">): Promise<Skopeo> {
  const certs = `${w.dir}/certs`;
  await Deno.mkdir(certs, { recursive: true });
  await Deno.copyFile(w.reg.ca.caCertPath, `${certs}/ca.crt`);
  const creds = `${OCI_USER.username}:${OCI_USER.password}`;
  return {
    inspectRaw: (ref) =>
      skopeo(["inspect", "--raw", "--cert-dir", certs, "--creds", creds, `docker://${ref}`]),
    copy: async (source, ref) => {
      await skopeo(["copy", "--dest-cert-dir", certs, "--dest-creds", creds, source, `docker://${ref}`]);
    },
  };
}

async function skopeo(args: string[]): Promise<string> {
  const out = await new Deno.Command("skopeo", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`skopeo ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

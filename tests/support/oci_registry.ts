/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with TLS
 * (the test CA's leaf) and either htpasswd Basic auth (`htpasswd -B` from apache2-utils) or Bearer
 * token auth from a small token server of the tests' own (ES256 JWTs signed with the leaf's key,
 * trusted by the registry through `rootcertbundle`, named by their libtrust `kid`). Artifacts are pushed
 * with the registry's HTTP API (monolithic blob uploads, then the manifest).
 *
 * Install with `apt-get install -y docker-registry apache2-utils` (.ci/run does); {@link ociRegistryMissing}
 * says why the tests are skipped when they are missing.
 *
 * @example
 * ```ts
 * import { ociRegistryMissing, startOciRegistry } from "./oci_registry.ts";
 * const missing = await ociRegistryMissing();
 * Deno.test({ name: "pull from a registry", ignore: missing !== null, fn: async () => {
 *   await using reg = await startOciRegistry({ dir: await Deno.makeTempDir(), auth: "token" });
 *   await reg.pushBlob("m", new Uint8Array([1, 2, 3]));
 * } });
 * ```
 * @module
 */
import { makeTestCa, type TestCa } from "./test_ca.ts";

/** Why the registry tests cannot run here, or null. */
export async function ociRegistryMissing(): Promise<string | null> {
  for (const [bin, pkg] of [["docker-registry", "docker-registry"], ["htpasswd", "apache2-utils"]]) {
    try {
      await new Deno.Command(bin!, { args: ["--help"], stdout: "null", stderr: "null" }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return `${bin} is not installed (apt-get install -y ${pkg})`;
      throw e;
    }
  }
  return null;
}

/** The user the registries accept. */
export const OCI_USER = { username: "tester", password: "s3cret-pass" };

/** A running registry. */
export interface OciRegistry extends AsyncDisposable {
  /** `127.0.0.1:PORT`. */
  host: string;
  ca: TestCa;
  /** The registry's storage root (blobs under `docker/registry/v2/blobs/sha256/XX/HEX/data`). */
  storage: string;
  /**
   * Requests the token server answered (their scopes, space-separated, and their `authorization`
   * header's scheme, never its value).
   */
  tokenRequests: { scope: string | null; scheme: string | null }[];
  /** Uploads `bytes` as a blob of `repo`; its digest `sha256:HEX`. */
  pushBlob(repo: string, bytes: Uint8Array): Promise<string>;
  /** PUTs `manifest` under `reference` (a tag); its digest. */
  pushManifest(repo: string, reference: string, manifest: unknown, mediaType: string): Promise<string>;
  /** An authenticated request to the registry API (for deletes and checks). */
  request(
    method: string,
    path: string,
    init?: { body?: Uint8Array; headers?: Record<string, string> },
  ): Promise<Response>;
  /** Path of a blob's bytes in the registry's storage. */
  blobPath(digest: string): string;
}

/** Options of {@link startOciRegistry}. */
export interface OciRegistryOptions {
  dir: string;
  auth: "basic" | "token";
  /** Serve plain http instead of TLS (default false). */
  plainHttp?: boolean;
  /** The CA whose leaf the registry serves (default: a new one in `dir/ca`). */
  ca?: TestCa;
  /** Blob GETs answer 307 to this base URL + the blob's storage path (distribution's redirect middleware). */
  redirectTo?: string;
  /**
   * The `exp` of the token server's Nth token (counted from 1; epoch seconds), given the time it is
   * minted; default now + 600. A test makes tokens that expire during a transfer with it.
   */
  tokenExpiry?: (n: number, now: number) => number;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** libtrust's key id: the SHA-256 of the DER public key, 240 bits in base32, 12 groups of 4. */
async function libtrustKid(key: CryptoKey): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", key));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", spki)).slice(0, 30);
  const b32 = encodeBase32(hash).replace(/=+$/, "");
  return b32.match(/.{4}/g)!.join(":");
}

function encodeBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function encodeBase32(bytes: Uint8Array): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, value = 0, out = "";
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** Starts a registry (and, for `token`, its token server) in `dir`; dispose to stop both. */
export async function startOciRegistry(options: OciRegistryOptions): Promise<OciRegistry> {
  const { dir } = options;
  const ca = options.ca ?? await makeTestCa(`${dir}/ca`);
  const port = freePort();
  const host = `127.0.0.1:${port}`;
  const storage = `${dir}/storage`;
  await Deno.mkdir(storage, { recursive: true });
  const htpasswd = await new Deno.Command("htpasswd", {
    args: ["-Bbn", OCI_USER.username, OCI_USER.password],
    stdout: "piped",
  }).output();
  await Deno.writeTextFile(`${dir}/htpasswd`, new TextDecoder().decode(htpasswd.stdout));
  const tokenRequests: OciRegistry["tokenRequests"] = [];
  let tokenServer: Deno.HttpServer | undefined;
  let authYaml: string;
  const service = "lode-test-registry";
  const issuer = "lode-test-issuer";
  // The token server signs with the leaf's key; the registry trusts the leaf certificate.
  const signKey = await crypto.subtle.importKey(
    "pkcs8",
    pemBody(ca.keyPem),
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    [
      "sign",
    ],
  );
  const jwk = await crypto.subtle.exportKey("jwk", signKey);
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["verify"],
  );
  const kid = await libtrustKid(publicKey);
  const basic = `Basic ${btoa(`${OCI_USER.username}:${OCI_USER.password}`)}`;
  let minted = 0;
  const mint = async (scopes: string[], exp?: number) => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((scope) => ({
      type: "repository",
      name: scope.split(":")[1],
      actions: scope.split(":")[2]!.split(","),
    }));
    const header = encodeBase64Url(json({ alg: "ES256", typ: "JWT", kid }));
    const claims = encodeBase64Url(json({
      iss: issuer,
      sub: OCI_USER.username,
      aud: service,
      exp: exp ?? now + 600,
      nbf: now - 10,
      iat: now,
      jti: crypto.randomUUID(),
      access,
    }));
    const input = new TextEncoder().encode(`${header}.${claims}`);
    const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signKey, input));
    return `${header}.${claims}.${encodeBase64Url(sig)}`;
  };
  if (options.auth === "token") {
    const tokenPort = freePort();
    tokenServer = Deno.serve({
      hostname: "127.0.0.1",
      port: tokenPort,
      cert: ca.certPem,
      key: ca.keyPem,
      onListen() {},
    }, async (req) => {
      const url = new URL(req.url);
      const auth = req.headers.get("authorization");
      const scopes = url.searchParams.getAll("scope");
      tokenRequests.push({ scope: scopes.join(" ") || null, scheme: auth?.split(" ")[0] ?? null });
      if (auth !== basic) {
        return new Response("unauthorized", {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="tokens"' },
        });
      }
      const now = Math.floor(Date.now() / 1000);
      const exp = options.tokenExpiry?.(++minted, now) ?? now + 600;
      return Response.json({ token: await mint(scopes, exp), expires_in: Math.max(1, exp - now) });
    });
    authYaml = [
      "auth:",
      "  token:",
      `    realm: https://127.0.0.1:${tokenPort}/token`,
      `    service: ${service}`,
      `    issuer: ${issuer}`,
      `    rootcertbundle: ${ca.dir}/leaf.crt`,
    ].join("\n");
  } else {
    authYaml = ["auth:", "  htpasswd:", "    realm: lode-test", `    path: ${dir}/htpasswd`].join("\n");
  }
  const config = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${host}`,
    ...(options.plainHttp
      ? []
      : ["  tls:", `    certificate: ${ca.dir}/leaf.crt`, `    key: ${ca.dir}/leaf.key`]),
    authYaml,
    ...(options.redirectTo
      ? [
        "middleware:",
        "  storage:",
        "    - name: redirect",
        "      options:",
        `        baseurl: ${options.redirectTo}`,
      ]
      : []),
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/config.yml`, config);
  const child = new Deno.Command("docker-registry", {
    args: ["serve", `${dir}/config.yml`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeTo(
    (await Deno.open(`${dir}/registry.log`, { write: true, create: true })).writable,
  );
  const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
  const tokens = new Map<string, string>();
  const authFor = async (repo: string) => {
    if (options.auth === "basic") return basic;
    const scope = `repository:${repo}:pull,push,delete`;
    let token = tokens.get(scope);
    if (!token) tokens.set(scope, token = await mint([scope]));
    return `Bearer ${token}`;
  };
  const scheme = options.plainHttp ? "http" : "https";
  const request: OciRegistry["request"] = async (method, path, init = {}) => {
    const repo = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(path)?.[1] ?? "";
    return await fetch(`${scheme}://${host}${path}`, {
      method,
      client,
      body: init.body as Uint8Array<ArrayBuffer> | undefined,
      headers: { authorization: await authFor(repo), ...init.headers },
      redirect: "manual",
    });
  };
  // Wait for the registry to answer.
  for (let i = 0;; i++) {
    try {
      const r = await fetch(`${scheme}://${host}/v2/`, { client });
      await r.body?.cancel();
      break;
    } catch (e) {
      if (i > 200) throw new Error(`docker-registry did not start: ${e}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const registry: OciRegistry = {
    host,
    ca,
    storage,
    tokenRequests,
    request,
    async pushBlob(repo, bytes) {
      const digest = `sha256:${await sha256Hex(bytes)}`;
      const start = await request("POST", `/v2/${repo}/blobs/uploads/`);
      await start.body?.cancel();
      if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
      const location = new URL(start.headers.get("location")!, `${scheme}://${host}`);
      location.searchParams.set("digest", digest);
      const put = await request("PUT", location.pathname + location.search, {
        body: bytes,
        headers: { "content-type": "application/octet-stream" },
      });
      const text = await put.text();
      if (put.status !== 201) throw new Error(`blob PUT: HTTP ${put.status} ${text}`);
      return digest;
    },
    async pushManifest(repo, reference, manifest, mediaType) {
      const bytes = json(manifest);
      const put = await request("PUT", `/v2/${repo}/manifests/${reference}`, {
        body: bytes,
        headers: { "content-type": mediaType },
      });
      const text = await put.text();
      if (put.status !== 201) throw new Error(`manifest PUT: HTTP ${put.status} ${text}`);
      return `sha256:${await sha256Hex(bytes)}`;
    },
    blobPath(digest) {
      const hex = digest.replace(/^sha256:/, "");
      return `${storage}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await stderr.catch(() => {});
      await tokenServer?.shutdown();
      client.close();
    },
  };
  return registry;
}

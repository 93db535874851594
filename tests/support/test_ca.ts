/**
 * A throw-away certificate authority for tests: an EC P-256 CA and a leaf certificate for the loopback
 * hosts (`127.0.0.1`, `127.0.0.2`, `localhost`, `*.localhost`), made with the `openssl` CLI.
 *
 * Nothing is cached: every call makes fresh keys in the directory it is given (about 60 ms).
 *
 * @module
 */

/** The files and PEM texts of a test CA and of the leaf certificate it signed. */
export interface TestCa {
  /** Directory holding `ca.key`, `ca.crt`, `leaf.key`, `leaf.crt`. */
  dir: string;
  /** Path of the CA certificate (PEM), for tools that want a file. */
  caCertPath: string;
  /** CA certificate (PEM): what a client is told to trust (`Deno.createHttpClient({ caCerts })`). */
  caCertPem: string;
  /** Leaf certificate (PEM) for the loopback hosts, signed by the CA: what the server presents. */
  certPem: string;
  /** Private key of the leaf certificate (PKCS#8 PEM). */
  keyPem: string;
}

/** Options of {@linkcode makeTestCa}. */
export interface MakeTestCaOptions {
  /** Common name of the CA (default `lode test CA`); use another for a second, distinct CA. */
  caName?: string;
  /** Validity in days of both certificates (default 2). */
  days?: number;
}

/** Hosts named in the leaf certificate's subjectAltName. */
export const TEST_CERT_SAN = "IP:127.0.0.1,IP:127.0.0.2,DNS:localhost,DNS:*.localhost";

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr);
    throw new Error(`openssl ${args[0]} failed (exit ${out.code}): ${err}`);
  }
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/**
 * Creates, in `dir` (created if missing), a CA key and certificate and a leaf key and certificate for
 * the loopback hosts signed by that CA. Serve with `certPem`/`keyPem`; trust `caCertPem` in the client.
 *
 * @example
 * ```ts
 * import { makeTestCa } from "./test_ca.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const ca = await makeTestCa(dir);
 * const client = Deno.createHttpClient({ caCerts: [ca.caCertPem] });
 * client.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function makeTestCa(dir: string, options: MakeTestCaOptions = {}): Promise<TestCa> {
  const caName = options.caName ?? "lode test CA";
  const days = String(options.days ?? 2);
  await Deno.mkdir(dir, { recursive: true });
  await openssl([
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    days,
    "-subj",
    `/CN=${caName}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], dir);
  // OpenSSL 3: `req -x509 -CA` issues the new key's certificate directly, signed by the CA.
  await openssl([
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    "leaf.key",
    "-out",
    "leaf.crt",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-days",
    days,
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    `subjectAltName=${TEST_CERT_SAN}`,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature",
    "-addext",
    "extendedKeyUsage=serverAuth",
  ], dir);
  const caCertPath = `${dir}/ca.crt`;
  const [caCertPem, certPem, keyPem] = await Promise.all([
    Deno.readTextFile(caCertPath),
    Deno.readTextFile(`${dir}/leaf.crt`),
    Deno.readTextFile(`${dir}/leaf.key`),
  ]);
  return { dir, caCertPath, caCertPem, certPem, keyPem };
}

/**
 * Makes a second, independent CA (named `lode untrusted CA`) in `dir`: serve with its leaf while the
 * client trusts another CA's `caCertPem`, and the TLS handshake must be refused.
 *
 * @example
 * ```ts
 * import { makeTestCa, makeUntrustedCa } from "./test_ca.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const trusted = await makeTestCa(`${dir}/good`);
 * const rogue = await makeUntrustedCa(`${dir}/rogue`);
 * // startOrigin({ tls: rogue, ... }) + Deno.createHttpClient({ caCerts: [trusted.caCertPem] }) → fetch fails
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function makeUntrustedCa(dir: string): Promise<TestCa> {
  return makeTestCa(dir, { caName: "lode untrusted CA" });
}

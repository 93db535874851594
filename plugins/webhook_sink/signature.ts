/**
 * The signature of Standard Webhooks 1.0, symmetric scheme: `v1,` and the base64 of
 * HMAC-SHA256(`msg_id.timestamp.body`) under the secret, whose text form is `whsec_` and the key's
 * bytes in base64. WebCrypto does the HMAC.
 *
 * @example
 * ```ts
 * import { importSecret, sign } from "./signature.ts";
 * const key = await importSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
 * await sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
 * // "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
 * ```
 * @module
 */
import { LodeError } from "../../src/errors.ts";

const PREFIX = "whsec_";
const encoder = new TextEncoder();

function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * The HMAC key of a `whsec_…` secret. Throws `USAGE` (naming `where`, never the secret) when the
 * text is not `whsec_` followed by base64 of at least 16 bytes.
 */
export async function importSecret(secret: string, where = "the webhook secret"): Promise<CryptoKey> {
  const trimmed = secret.trim();
  const bytes = trimmed.startsWith(PREFIX) ? fromBase64(trimmed.slice(PREFIX.length)) : null;
  if (bytes === null || bytes.length < 16) {
    throw new LodeError(
      "USAGE",
      `${where} is not a Standard Webhooks secret: expected whsec_ followed by base64 of 16 to 64 bytes`,
      { hint: "Make one with: echo whsec_$(openssl rand -base64 32)" },
    );
  }
  return await crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** The `webhook-signature` value of one attempt: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export async function sign(key: CryptoKey, id: string, timestamp: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

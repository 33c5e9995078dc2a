/**
 * Authenticated encryption of OAuth tokens at rest: AES-256-GCM with a random 96-bit IV per
 * value, in a compact text form that names its key so keys can be rotated:
 *
 *     v1.<keyId>.<IV, base64url>.<ciphertext ‖ 16-byte tag, base64url>
 *
 * The additional authenticated data is the header (`v1.<keyId>`) and the caller's `context` (the
 * document and field the value belongs to), so a ciphertext copied into another user's document,
 * moved to another field or relabelled with another key id does not open.
 *
 * Errors carry a reason and at most the key id: never plaintext, ciphertext or key material.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

import { KEY_ID_PATTERN, type TokenKeyring } from "./token-keys";

const VERSION = "v1";
const ALGORITHM = "aes-256-gcm";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * - `not_sealed`: the value is not in the sealed form at all (e.g. a token written in plaintext);
 * - `unknown_key`: sealed with a key id the keyring no longer holds (restore that key);
 * - `unreadable`: malformed, tampered with, moved from elsewhere, or the key's bytes changed.
 */
export type TokenCryptoFailure = "not_sealed" | "unknown_key" | "unreadable";

export class TokenCryptoError extends Error {
  constructor(
    readonly reason: TokenCryptoFailure,
    message: string,
    readonly keyId?: string,
  ) {
    super(message);
    this.name = "TokenCryptoError";
  }
}

interface SealedParts {
  keyId: string;
  iv: Buffer;
  body: Buffer;
}

/** Splits a sealed value; undefined when it does not even look sealed. */
function parseSealed(value: string): SealedParts | "malformed" | undefined {
  const parts = value.split(".");
  if (parts[0] !== VERSION) {
    return undefined;
  }
  const [, keyId = "", iv = "", body = ""] = parts;
  if (
    parts.length !== 4 ||
    !KEY_ID_PATTERN.test(keyId) ||
    !BASE64URL.test(iv) ||
    !BASE64URL.test(body)
  ) {
    return "malformed";
  }
  const parsed = {
    keyId,
    iv: Buffer.from(iv, "base64url"),
    body: Buffer.from(body, "base64url"),
  };
  return parsed.iv.length === IV_BYTES && parsed.body.length >= TAG_BYTES ? parsed : "malformed";
}

const additionalData = (keyId: string, context: string) =>
  Buffer.from(`${VERSION}.${keyId}|${context}`, "utf8");

/** Seals `plaintext` with the keyring's current key, bound to `context`. */
export function sealToken(keys: TokenKeyring, plaintext: string, context: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, keys.current.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(keys.current.id, context));
  const body = Buffer.concat([
    cipher.update(plaintext, "utf8"),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return [VERSION, keys.current.id, iv.toString("base64url"), body.toString("base64url")].join(".");
}

/** The key id a sealed value names, without opening it; undefined when it is not sealed. */
export function sealedKeyId(value: string): string | undefined {
  const parsed = parseSealed(value);
  return typeof parsed === "object" ? parsed.keyId : undefined;
}

/** Opens a value sealed by `sealToken` for the same `context`, or throws `TokenCryptoError`. */
export function openToken(keys: TokenKeyring, sealed: string, context: string): string {
  const parsed = parseSealed(sealed);
  if (parsed === undefined) {
    throw new TokenCryptoError("not_sealed", "the value is not sealed");
  }
  if (parsed === "malformed") {
    throw new TokenCryptoError("unreadable", "the sealed value is malformed");
  }
  const key = keys.keys.get(parsed.keyId);
  if (!key) {
    throw new TokenCryptoError(
      "unknown_key",
      `sealed with key id "${parsed.keyId}", which the keyring does not hold`,
      parsed.keyId,
    );
  }
  const tagAt = parsed.body.length - TAG_BYTES;
  try {
    const decipher = createDecipheriv(ALGORITHM, key, parsed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(parsed.keyId, context));
    decipher.setAuthTag(parsed.body.subarray(tagAt));
    return Buffer.concat([
      decipher.update(parsed.body.subarray(0, tagAt)),
      decipher.final(),
    ]).toString("utf8");
  } catch {
    // Node's message ("unable to authenticate data") says nothing more; keep ours uniform.
    throw new TokenCryptoError(
      "unreadable",
      "the sealed value does not authenticate (tampered with, moved, or the key changed)",
      parsed.keyId,
    );
  }
}

import { randomBytes } from "node:crypto";

import {
  openToken,
  sealedKeyId,
  sealToken,
  TokenCryptoError,
} from "../../../src/integrations/crypto";
import { requireTokenKeys, type TokenKeyring } from "../../../src/integrations/token-keys";

const material = { k1: randomBytes(32).toString("base64"), k2: randomBytes(32).toString("base64") };
const keyring = (current: string, ids: Array<keyof typeof material>): TokenKeyring =>
  requireTokenKeys({
    TOKEN_ENCRYPTION_KEYS: JSON.stringify({
      current,
      keys: Object.fromEntries(ids.map((id) => [id, material[id]])),
    }),
  });

const TOKEN = "ya29.a0AfB_byC-access-token-of-alice";
const CONTEXT = "users/alice/integrations/google/private/credentials#accessToken";

/** The failure reason `openToken` throws, and its message (checked for leaks). */
function openFailure(keys: TokenKeyring, sealed: string, context = CONTEXT) {
  try {
    openToken(keys, sealed, context);
  } catch (error) {
    if (error instanceof TokenCryptoError) {
      return { reason: error.reason, message: error.message, keyId: error.keyId };
    }
    throw error;
  }
  throw new Error("expected the value not to open");
}

/** Flips one bit of one base64url part of a sealed value. */
function tamper(sealed: string, part: 2 | 3, byte = 0): string {
  const parts = sealed.split(".");
  const bytes = Buffer.from(parts[part]!, "base64url");
  bytes[byte]! ^= 0x01;
  parts[part] = bytes.toString("base64url");
  return parts.join(".");
}

describe("sealToken / openToken", () => {
  const keys = keyring("k1", ["k1"]);

  it("round-trips through the compact form v1.<keyId>.<iv>.<ciphertext+tag>", () => {
    const sealed = sealToken(keys, TOKEN, CONTEXT);
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealedKeyId(sealed)).toBe("k1");
    expect(openToken(keys, sealed, CONTEXT)).toBe(TOKEN);
  });

  it("hides the token: no plaintext, a fresh IV every time, the tag appended", () => {
    const first = sealToken(keys, TOKEN, CONTEXT);
    const second = sealToken(keys, TOKEN, CONTEXT);
    expect(first).not.toBe(second);
    expect(first.split(".")[2]).not.toBe(second.split(".")[2]);
    for (const sealed of [first, second]) {
      expect(sealed).not.toContain("access-token");
      expect(Buffer.from(sealed.split(".")[3]!, "base64url")).toHaveLength(
        Buffer.byteLength(TOKEN) + 16,
      );
    }
  });

  it("opens old ciphertexts after a rotation, and seals new ones with the new key", () => {
    const old = sealToken(keys, TOKEN, CONTEXT);
    const rotated = keyring("k2", ["k1", "k2"]);
    expect(openToken(rotated, old, CONTEXT)).toBe(TOKEN);
    const fresh = sealToken(rotated, TOKEN, CONTEXT);
    expect(sealedKeyId(fresh)).toBe("k2");
    expect(openFailure(keys, fresh)).toMatchObject({ reason: "unknown_key", keyId: "k2" });
  });

  it.each([
    [
      "another user's document",
      "users/mallory/integrations/google/private/credentials#accessToken",
    ],
    ["another platform", "users/alice/integrations/meta/private/credentials#accessToken"],
    ["another field", "users/alice/integrations/google/private/credentials#refreshToken"],
  ])("does not open in %s (the context is authenticated)", (_where, context) => {
    const sealed = sealToken(keys, TOKEN, CONTEXT);
    expect(openFailure(keys, sealed, context).reason).toBe("unreadable");
  });

  it.each([
    ["the IV", (sealed: string) => tamper(sealed, 2)],
    ["the ciphertext", (sealed: string) => tamper(sealed, 3)],
    ["the tag", (sealed: string) => tamper(sealed, 3, Buffer.byteLength(TOKEN) + 3)],
    ["the key id label", (sealed: string) => sealed.replace("v1.k1.", "v1.k2.")],
    ["a truncated body", (sealed: string) => sealed.slice(0, sealed.lastIndexOf(".") + 10)],
    ["a missing part", (sealed: string) => sealed.split(".").slice(0, 3).join(".")],
    ["a bad character", (sealed: string) => `${sealed}*`],
  ])("fails cleanly on a change to %s", (_what, change) => {
    const both = keyring("k1", ["k1", "k2"]);
    const failure = openFailure(both, change(sealToken(both, TOKEN, CONTEXT)));
    expect(failure.reason).toBe("unreadable");
    expect(failure.message).not.toContain(TOKEN);
  });

  it("tells an unsealed value and an unknown key apart from tampering", () => {
    expect(openFailure(keys, TOKEN).reason).toBe("not_sealed");
    expect(sealedKeyId(TOKEN)).toBeUndefined();
    const sealedElsewhere = sealToken(keyring("k2", ["k2"]), TOKEN, CONTEXT);
    expect(openFailure(keys, sealedElsewhere)).toMatchObject({
      reason: "unknown_key",
      keyId: "k2",
      message: 'sealed with key id "k2", which the keyring does not hold',
    });
  });

  it("puts no token, ciphertext or key material in its failures", () => {
    const sealed = sealToken(keys, TOKEN, CONTEXT);
    const failures = [
      openFailure(keys, tamper(sealed, 3)),
      openFailure(keys, sealed, "elsewhere"),
      openFailure(keyring("k2", ["k2"]), sealed),
      openFailure(keys, TOKEN),
    ];
    const text = JSON.stringify(failures);
    for (const secret of [TOKEN, sealed.split(".")[3]!, material.k1, material.k2]) {
      expect(text).not.toContain(secret);
    }
  });
});

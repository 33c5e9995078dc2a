/**
 * TOKEN_ENCRYPTION_KEYS: the keys that seal OAuth tokens at rest (`crypto.ts`), a Firebase
 * secret holding JSON `{"current":"k2","keys":{"k1":"<base64 of 32 bytes>","k2":"…"}}`.
 * New ciphertexts use `current`; every other key still opens what it sealed, so a key is rotated
 * by adding one and switching `current`, and the old one is removed only once nothing uses it.
 *
 * Validated on first use, like every variable; issues name the variable, the key ids and what is
 * wrong — never key material.
 */
import { createSecretKey, type KeyObject } from "node:crypto";

import { z } from "zod";

import { jsonObject, type RawEnv, requireVariables } from "../shared/config";

export const TOKEN_KEYS_VARIABLE = "TOKEN_ENCRYPTION_KEYS";

/** Key ids appear in every ciphertext's header, so no dots: letters, digits, `_` and `-`. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** 32 bytes in standard base64 is exactly 43 characters and one `=`. */
const KEY_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

const GENERATE_KEY_COMMAND = `node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`;

export interface TokenKeyring {
  /** The key new ciphertexts are sealed with. */
  readonly current: { readonly id: string; readonly key: KeyObject };
  /** Every key that may open a ciphertext, by id (`current` included). */
  readonly keys: ReadonlyMap<string, KeyObject>;
}

const KEY_ID_RULE = "must be 1-32 letters, digits, '_' or '-'";
const keyId = z.string().regex(KEY_ID_PATTERN, { error: KEY_ID_RULE });

/** KeyObjects rather than Buffers: a keyring that reaches a log or a response shows `{}`. */
const keyringSchema = z
  .strictObject({
    current: keyId,
    keys: z.record(
      keyId,
      z.string().regex(KEY_BASE64, {
        error: `must be 32 random bytes in base64 (generate one with: ${GENERATE_KEY_COMMAND})`,
      }),
      // zod reports a bad record key on its own ("Invalid key in record"): say what is expected.
      { error: (issue) => (issue.code === "invalid_key" ? `key ids ${KEY_ID_RULE}` : undefined) },
    ),
  })
  .transform((value, ctx): TokenKeyring => {
    const keys = new Map(
      Object.entries(value.keys).map(([id, material]) => [
        id,
        createSecretKey(Buffer.from(material, "base64")),
      ]),
    );
    const key = keys.get(value.current);
    if (!key) {
      ctx.addIssue({ code: "custom", path: ["current"], message: "must name one of the keys" });
      return z.NEVER;
    }
    return { current: { id: value.current, key }, keys };
  });

const tokenKeysSchema = z.object({
  [TOKEN_KEYS_VARIABLE]: jsonObject.transform((value, ctx) => {
    const parsed = keyringSchema.safeParse(value);
    if (parsed.success) {
      return parsed.data;
    }
    const fields = parsed.error.issues
      .map((issue) => [issue.path.join("."), issue.message].filter(Boolean).join(" "))
      .join(", ");
    ctx.addIssue({
      code: "custom",
      message: `must be {"current":"<key id>","keys":{"<key id>":"<base64 key>"}}: ${fields}`,
    });
    return z.NEVER;
  }),
});

/** The validated keyring, or a `ConfigError` naming TOKEN_ENCRYPTION_KEYS. */
export function requireTokenKeys(raw: RawEnv): TokenKeyring {
  return requireVariables(tokenKeysSchema, raw, [TOKEN_KEYS_VARIABLE])[TOKEN_KEYS_VARIABLE];
}

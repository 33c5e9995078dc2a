import { randomBytes } from "node:crypto";

import { requireTokenKeys } from "../../../src/integrations/token-keys";

const key = () => randomBytes(32).toString("base64");
const configure = (value: unknown) => ({
  TOKEN_ENCRYPTION_KEYS: typeof value === "string" ? value : JSON.stringify(value),
});

/** What requireTokenKeys throws: a ConfigError about TOKEN_ENCRYPTION_KEYS alone. */
const configError = (message: unknown) =>
  expect.objectContaining({
    name: "ConfigError",
    issues: [expect.objectContaining({ variable: "TOKEN_ENCRYPTION_KEYS" })],
    message,
  }) as Error;

describe("TOKEN_ENCRYPTION_KEYS", () => {
  it("yields the current key and every key that may open a ciphertext", () => {
    const keys = requireTokenKeys(configure({ current: "k2", keys: { k1: key(), k2: key() } }));
    expect(keys.current.id).toBe("k2");
    expect([...keys.keys.keys()]).toEqual(["k1", "k2"]);
    expect(keys.keys.get("k2")).toBe(keys.current.key);
    expect(keys.current.key.symmetricKeySize).toBe(32);
  });

  it("shows no key material when serialised", () => {
    const material = key();
    const keys = requireTokenKeys(configure({ current: "k1", keys: { k1: material } }));
    const shown = JSON.stringify(keys);
    expect(shown).not.toContain(material);
    expect(shown).not.toContain(Buffer.from(material, "base64").toString("hex"));
  });

  it("is required: unset and empty both fail naming the variable", () => {
    for (const raw of [{}, { TOKEN_ENCRYPTION_KEYS: "" }]) {
      expect(() => requireTokenKeys(raw)).toThrow(
        "Invalid configuration: TOKEN_ENCRYPTION_KEYS is required but not set",
      );
    }
  });

  it.each([
    ["not JSON", "k1=abc", "must be a JSON object"],
    ["current missing from keys", { current: "k3", keys: { k1: key() } }, "current must name"],
    ["a 16-byte key", { current: "k1", keys: { k1: randomBytes(16).toString("base64") } }, "32"],
    ["a hex key", { current: "k1", keys: { k1: randomBytes(32).toString("hex") } }, "base64"],
    ["a key id with a dot", { current: "k.1", keys: { "k.1": key() } }, "letters, digits"],
    ["no current", { keys: { k1: key() } }, "current"],
    ["an unknown field", { current: "k1", keys: { k1: key() }, extra: 1 }, "extra"],
  ])("rejects %s with a message naming the variable", (_what, value, expected) => {
    expect(() => requireTokenKeys(configure(value))).toThrow(
      configError(expect.stringMatching(new RegExp(`TOKEN_ENCRYPTION_KEYS .*${expected}`))),
    );
  });

  it("never echoes key material in its messages", () => {
    const short = randomBytes(16).toString("base64");
    const hex = randomBytes(32).toString("hex");
    const parse = () =>
      requireTokenKeys(configure({ current: "k1", keys: { k1: short, k2: hex } }));
    expect(parse).toThrow(configError(expect.stringMatching(/keys\.k1 .*keys\.k2 /)));
    expect(parse).toThrow(configError(expect.not.stringContaining(short)));
    expect(parse).toThrow(configError(expect.not.stringContaining(hex)));
  });
});

/**
 * TRUSTED_PROXY_HOPS, which picks the X-Forwarded-For entry a request's source is read from:
 * defaulted to the right-most entry, validated like every variable, and applied by
 * `clientAddress` counting from the right.
 */
import { clientAddress } from "../../../src/http/rate-limit";
import { ConfigError } from "../../../src/shared/config";
import { requireRateLimitConfig } from "../../../src/shared/rate-limit-config";

const xff = (value: string) => ({
  method: "POST",
  headers: { "x-forwarded-for": value },
  ip: "169.254.1.1",
});

describe("TRUSTED_PROXY_HOPS", () => {
  it("defaults to 0, the entry Google's front end appends", () => {
    for (const value of [undefined, ""]) {
      expect(requireRateLimitConfig({ TRUSTED_PROXY_HOPS: value }).trustedProxyHops).toBe(0);
    }
  });

  it.each(["0", "1", "4"])("accepts %s", (value) => {
    expect(requireRateLimitConfig({ TRUSTED_PROXY_HOPS: value }).trustedProxyHops).toBe(
      Number(value),
    );
  });

  it.each(["5", "-1", "one", "1.5"])("refuses %s, naming the variable", (value) => {
    const parse = () => requireRateLimitConfig({ TRUSTED_PROXY_HOPS: value });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow("TRUSTED_PROXY_HOPS must be a whole number from 0 to 4");
  });
});

describe("clientAddress counts hops from the right", () => {
  const chain = "192.0.2.66, 198.51.100.9, 35.191.0.1";

  it.each([
    [0, "35.191.0.1"],
    [1, "198.51.100.9"],
    [2, "192.0.2.66"],
    [4, "192.0.2.66"],
  ])("hops %i → %s", (hops, expected) => {
    expect(clientAddress(xff(chain), hops)).toBe(expected);
  });

  it("gives every forged prefix the same source", () => {
    const sources = ["10.0.0.1", "192.0.2.1, 192.0.2.2", "evil, ::1"].map((forged) =>
      clientAddress(xff(`${forged}, 198.51.100.9`), 0),
    );
    expect(new Set(sources)).toEqual(new Set(["198.51.100.9"]));
  });
});

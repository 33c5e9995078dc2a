/**
 * The sandbox's app-wide rate limit (`appQps`), which the fleet benchmark runs against: a
 * bucket of `appQps` calls refilled at `appQps` per second, across every caller, answered past
 * it with the platform's own app-level throttle (TikTok 40100) and counted.
 */
import { SANDBOX_PLATFORMS } from "../../../dev/sandbox";
import type { RunningSandbox } from "../../../dev/sandbox/server";
import type { SandboxWorld } from "../../../dev/sandbox/world";
import { sandboxAccount, startWorld } from "../../harness/sandbox";

let world: SandboxWorld;
let sandbox: RunningSandbox;

beforeAll(async () => {
  ({ world, sandbox } = await startWorld(
    [sandboxAccount("tiktok", "7000000000000000001", 2, "UTC", "USD")],
    SANDBOX_PLATFORMS,
  ));
});
afterAll(() => sandbox.stop());

/** One account lookup, as the adapter makes it; the TikTok envelope's `code`. */
async function call(token: string): Promise<number> {
  const url = new URL(`${sandbox.baseUrls().tiktok.baseUrl}/advertiser/info/`);
  url.searchParams.set("advertiser_ids", JSON.stringify(["7000000000000000001"]));
  const response = await fetch(url, { headers: { "Access-Token": token } });
  return ((await response.json()) as { code: number }).code;
}

it("lets a second's worth of calls through at once, refuses the rest with 40100, and refills", async () => {
  const { accessToken } = world.issueTokens("tiktok");
  world.setFaults("tiktok", { appQps: 3 });
  const burst = await Promise.all(Array.from({ length: 8 }, () => call(accessToken)));
  expect(burst.filter((code) => code === 0)).toHaveLength(3);
  expect(burst.filter((code) => code === 40100)).toHaveLength(5);
  expect(world.appRefusals.tiktok).toBe(5);

  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const refilled = await Promise.all(Array.from({ length: 4 }, () => call(accessToken)));
  expect(refilled.filter((code) => code === 0)).toHaveLength(3);

  world.setFaults("tiktok", {});
  const unlimited = await Promise.all(Array.from({ length: 8 }, () => call(accessToken)));
  expect(unlimited.every((code) => code === 0)).toBe(true);
});

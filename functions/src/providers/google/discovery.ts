/**
 * Google Ads account discovery, as Google's "Get account hierarchy" guide walks it
 * (https://developers.google.com/google-ads/api/docs/account-management/get-account-hierarchy):
 * `customers:listAccessibleCustomers` names the customers the login can access directly (top
 * managers and directly granted clients), then `customer_client` on each, with
 * `login-customer-id` set to the accessible customer the walk started from, lists its direct
 * children; sub-managers are walked in turn.
 *
 * No `inspect`: Google Ads has no token-debug endpoint, and what decides whether a Google
 * connection lives is its refresh token (revoked, unused for 6 months, or 7 days old for an app
 * in "Testing"), which no endpoint describes; only a refresh tells. The access token's expiry
 * is already known from the refresh answer (`Credentials.expiresAt`).
 */
import type { AccountDiscovery, AdapterContext } from "../adapter";
import { ProviderError } from "../errors";
import type { Credentials, DiscoveredAccount } from "../types";
import { adsHeaders, CUSTOMER_CLIENT_QUERY, searchStreamUrl } from "./query";
import {
  accessibleCustomersSchema,
  type CustomerClient,
  customerClientResponseSchema,
} from "./schema";

/** One customer whose `customer_client` rows are still to be read. */
interface Step {
  customer: string;
  /** The accessible customer the walk started from: every request below it logs in as it. */
  login: string;
  /** The managers above `customer`, top first (empty for an accessible customer). */
  path: string[];
}

/** `customers/1234567890` → `1234567890`. */
const customerOf = (resourceName: string): string => resourceName.slice("customers/".length);

function discovered(client: CustomerClient, hierarchy: string[]): DiscoveredAccount {
  return {
    accountId: customerOf(client.clientCustomer),
    name: client.descriptiveName,
    currency: client.currencyCode || null,
    timeZone: client.timeZone || null,
    // CANCELED, SUSPENDED and CLOSED accounts serve no ads and report nothing.
    status: client.status === "ENABLED" ? "active" : "inactive",
    platformStatus: client.status,
    hierarchy,
  };
}

/**
 * A customer's level-0 and level-1 `customer_client` rows, or `not_enabled` when Google refuses
 * the customer itself as canceled, suspended or closed (`authorizationError:
 * CUSTOMER_NOT_ENABLED`, "The customer account can't be accessed because it is not yet enabled
 * or has been deactivated":
 * https://developers.google.com/google-ads/api/reference/rpc/v25/AuthorizationErrorEnum.AuthorizationError).
 */
async function clientsOf(
  ctx: AdapterContext<"google">,
  credentials: Credentials,
  step: Step,
): Promise<CustomerClient[] | "not_enabled"> {
  try {
    const batches = await ctx.http.request({
      method: "POST",
      url: searchStreamUrl(ctx.settings, step.customer),
      headers: adsHeaders(ctx.settings, credentials.accessToken, step.login),
      data: { query: CUSTOMER_CLIENT_QUERY },
      schema: customerClientResponseSchema,
      label: `customer_client ${step.customer}`,
    });
    return batches.flatMap((batch) => batch.results.map((row) => row.customerClient));
  } catch (error) {
    if (error instanceof ProviderError && error.reason === "customer_not_enabled") {
      return "not_enabled";
    }
    throw error;
  }
}

export const googleDiscovery: AccountDiscovery<"google"> = {
  async discover(ctx, credentials) {
    const { baseUrl, apiVersion } = ctx.settings;
    // Not on behalf of any customer: no login-customer-id.
    const accessible = await ctx.http.request({
      method: "GET",
      url: `${baseUrl}/${apiVersion}/customers:listAccessibleCustomers`,
      headers: adsHeaders(ctx.settings, credentials.accessToken),
      schema: accessibleCustomersSchema,
      label: "listAccessibleCustomers",
    });
    const seeds = accessible.resourceNames.map(customerOf);
    const found = new Map<string, DiscoveredAccount>();
    // A client reached on several paths (granted directly and through a manager, or under two
    // managers) is kept once, on its shortest path: the fewest managers to log in through.
    const keep = (account: DiscoveredAccount): void => {
      const known = found.get(account.accountId);
      if (!known || account.hierarchy.length < known.hierarchy.length) {
        found.set(account.accountId, account);
      }
    };
    // Breadth first, so a manager is first reached on its shortest path and walked only then.
    const walked = new Set(seeds);
    const queue: Step[] = seeds.map((customer) => ({ customer, login: customer, path: [] }));
    for (let step = queue.shift(); step; step = queue.shift()) {
      const clients = await clientsOf(ctx, credentials, step);
      if (clients === "not_enabled") {
        // Google tells nothing else of an accessible customer it refuses (not even whether it
        // is a manager): listed as inactive rather than lost. One below a manager was listed
        // with its status by its parent; a disabled sub-manager has no clients to walk.
        if (step.path.length === 0) {
          keep({
            accountId: step.customer,
            name: step.customer,
            currency: null,
            timeZone: null,
            status: "inactive",
            platformStatus: "CUSTOMER_NOT_ENABLED",
            hierarchy: [],
          });
        }
        continue;
      }
      for (const client of clients) {
        const id = customerOf(client.clientCustomer);
        if (Number(client.level) === 0) {
          // The customer itself: an accessible client account, or a manager (no metrics).
          if (!client.manager) {
            keep(discovered(client, step.path));
          }
          continue;
        }
        const path = [...step.path, step.customer];
        if (!client.manager) {
          keep(discovered(client, path));
        } else if (!walked.has(id)) {
          walked.add(id);
          queue.push({ customer: id, login: step.login, path });
        }
      }
    }
    return [...found.values()];
  },
};

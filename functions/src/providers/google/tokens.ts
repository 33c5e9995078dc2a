/**
 * Google OAuth access tokens live one hour; the refresh token is long-lived until revoked.
 * The refresh_token grant is spoken by google-auth-library's `OAuth2Client` (form body, client
 * authentication, expiry computation, the `tokens` event), but its bytes travel through the
 * platform's `PlatformHttp` via gaxios' `adapter` hook: the token call gets the same timeout,
 * limiter, bounded retries, error classification and redaction as every Google Ads call, and
 * it goes to `settings.tokenUrl` (the sandbox in tests), never anywhere else.
 */
import { type gaxios, OAuth2Client } from "google-auth-library";

import type { AdapterContext, TokenRefresher } from "../adapter";
import { ProviderError } from "../errors";
import type { Credentials } from "../types";
import { tokenResponseSchema } from "./schema";

/** google-auth-library's own `eagerRefreshThresholdMillis` default: 5 minutes. */
export const EAGER_REFRESH_MS = 5 * 60_000;

function transport(ctx: AdapterContext<"google">) {
  return async <T>(options: gaxios.GaxiosOptionsPrepared): gaxios.GaxiosPromise<T> => {
    const tokens = await ctx.http.request({
      // The only request this client makes is the refresh_token grant.
      method: "POST",
      url: options.url.toString(),
      data: options.data,
      schema: tokenResponseSchema,
      label: "token refresh",
    });
    // The body was validated above; OAuth2Client reads `data` only.
    return Object.assign(new Response(null, { status: 200 }), {
      config: options,
      data: tokens as T,
    });
  };
}

export const googleTokens: TokenRefresher<"google"> = {
  isExpiring(credentials: Credentials, now: number): boolean {
    // Google access tokens are never long-lived: one of unknown age with a refresh token is
    // renewed up front (no Ads quota spent) rather than discovered stale by a 401.
    if (credentials.expiresAt === undefined) {
      return credentials.refreshToken !== undefined;
    }
    return credentials.expiresAt - now <= EAGER_REFRESH_MS;
  },

  async refresh(ctx, credentials) {
    const { clientId, clientSecret, tokenUrl } = ctx.settings;
    if (!credentials.refreshToken) {
      throw new ProviderError(
        "google",
        "auth",
        "no_refresh_token",
        "the access token expired and there is no refresh token: the user must reconnect",
      );
    }
    if (!clientId || !clientSecret) {
      throw new ProviderError(
        "google",
        "permanent",
        "oauth_client_not_configured",
        "google.clientId and google.clientSecret must be set to refresh access tokens",
      );
    }
    const client = new OAuth2Client({
      clientId,
      clientSecret,
      endpoints: { oauth2TokenUrl: tokenUrl },
      // Its default interceptors log token responses when GOOGLE_SDK_NODE_LOGGING is set.
      useAuthRequestParameters: false,
      // PlatformHttp already retries, bounded and classified; gaxios must not retry on top.
      transporterOptions: { retryConfig: { retry: 0 }, adapter: transport(ctx) },
    });
    // refreshAccessToken() reports the old refresh token; the event sees a rotated one.
    let rotatedRefreshToken: string | undefined;
    client.on("tokens", (tokens) => {
      rotatedRefreshToken = tokens.refresh_token ?? undefined;
    });
    client.setCredentials({ refresh_token: credentials.refreshToken });
    let refreshed;
    try {
      refreshed = (await client.refreshAccessToken()).credentials;
    } catch (error) {
      // gaxios wraps whatever the transport threw; our classified error is its cause.
      throw error instanceof Error && error.cause instanceof ProviderError ? error.cause : error;
    }
    if (!refreshed.access_token) {
      // tokenResponseSchema already required it; the library types it as optional.
      throw new ProviderError("google", "transient", "malformed_response", "no access token");
    }
    return {
      accessToken: refreshed.access_token,
      refreshToken: rotatedRefreshToken ?? credentials.refreshToken,
      ...(refreshed.expiry_date ? { expiresAt: refreshed.expiry_date } : {}),
    };
  },
};

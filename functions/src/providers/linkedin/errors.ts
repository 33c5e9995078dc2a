/**
 * LinkedIn's error signals → the closed vocabulary. The REST API answers with HTTP statuses and
 * `{"status","serviceErrorCode","code","message"}` bodies (never an error inside a 200); the OAuth
 * endpoint with RFC 6749 `{"error","error_description"}` bodies.
 * https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling
 */
import { ProviderError } from "../errors";
import { type Classifier, classifyStatus } from "../http";
import { apiErrorSchema, oauthErrorSchema } from "./schema";

/**
 * - 2xx: accepted. 5xx and 408: transient.
 * - 429: rate limited — LinkedIn sends no Retry-After and no usage headers, so the generic
 *   Retry-After-or-default wait applies. Its limits are daily, per application and per member
 *   (the user whose token makes the call), and a 429 does not say which one was reached
 *   (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits). The wait
 *   holds back only this member's requests: read as the app's, one member's spent quota would
 *   stop every user's sync at each retry until midnight UTC; read as the member's when it was
 *   the app's, each other member spends one refused request before it waits too.
 * - OAuth `invalid_grant`: the refresh token expired (365 days from consent) or was revoked: auth.
 *   Other OAuth errors (`invalid_client`, `invalid_request`) are our client configuration, which
 *   a reconnect would not fix: permanent.
 * - 401 (65600 invalid, 65601 revoked, 65602 expired, empty token): auth — the runner refreshes
 *   once when it can, otherwise the user reconnects.
 * - 400 (bad parameter, missing LinkedIn-Version), 403 ACCESS_DENIED, 404, 414, 426 (the
 *   LinkedIn-Version was sunset): permanent — the same request can only fail again.
 */
export const classifyLinkedin: Classifier = (response, { now }) => {
  const { status } = response;
  if (status === 429) {
    return classifyStatus("linkedin", response, now, "member");
  }
  if (status < 400 || status === 408 || status >= 500) {
    return undefined;
  }
  const oauth = oauthErrorSchema.safeParse(response.body);
  if (oauth.success) {
    const { error, error_description: description } = oauth.data;
    return new ProviderError(
      "linkedin",
      error === "invalid_grant" ? "auth" : "permanent",
      `oauth_${error}`,
      `LinkedIn refused the token request (${error}${description ? `: ${description}` : ""})`,
    );
  }
  const parsed = apiErrorSchema.safeParse(response.body);
  const { code, serviceErrorCode, message } = parsed.success ? parsed.data : {};
  const detail =
    `LinkedIn rejected the request (HTTP ${status}` +
    `${serviceErrorCode === undefined ? "" : `, serviceErrorCode ${serviceErrorCode}`}): ` +
    `${message ?? "no message"}` +
    `${status === 426 ? "; move the linkedin apiVersion setting to an active version" : ""}`;
  return new ProviderError(
    "linkedin",
    status === 401 ? "auth" : "permanent",
    code?.toLowerCase() ?? `http_${status}`,
    detail,
  );
};

/**
 * PATCH /api/integrations/accounts — which of an integration's ad accounts are synced (any
 * signed-in user, on their own integrations only).
 *
 * Request (strict): `{providerId, selection?: "all" | "selected", accountIds?: string[]}` with at
 * least one of them. `selection: "all"` syncs every active account discovery finds, new ones
 * included as they appear; `"selected"` syncs the chosen ones. `accountIds` (up to 1,000, each an
 * account the integration's discovery found, in any spelling its platform uses) replaces the
 * chosen ones. An account discovery has not found (any, before the first discovery) is refused
 * with 400 naming it, and a missing integration with 404; nothing is written then.
 *
 * Field updates only (the selection, each account's `selected`), as the automation endpoint's:
 * no read-modify-write, so concurrent calls never contend; an account found by a discovery
 * meanwhile keeps its own default.
 *
 * Response: `{success: true, providerId, accountSelection, accountIds: [synced], accounts: [...]}`
 * (each account as the status endpoint shows it).
 */
import { FieldPath } from "firebase-admin/firestore";
import { z } from "zod";

import { syncedAccountIds } from "../integrations/accounts";
import { integrationPath, integrationSchema } from "../integrations/model";
import { canonicalAccountId } from "../providers/ids";
import { AppError } from "../shared/errors";
import { defineEndpoint } from "./context";
import { invalidBodyField, parseBody, providerIdField } from "./validation";
import { accountView } from "./views";

const MAX_ACCOUNTS = 1000;

const accountsRequestSchema = z
  .strictObject({
    providerId: providerIdField,
    selection: z.enum(["all", "selected"]).optional(),
    accountIds: z.array(z.string().min(1).max(100)).max(MAX_ACCOUNTS).optional(),
  })
  .refine((body) => body.selection !== undefined || body.accountIds !== undefined, {
    error: "give selection, accountIds, or both",
  });

const notFound = (providerId: string) =>
  new AppError("not_found", `You have no ${providerId} integration`);

export const handleAccounts = defineEndpoint({
  name: "accounts",
  method: "PATCH",
  access: "user",
  parse: (req) => parseBody(accountsRequestSchema, req.body),
  run: async ({ providerId, selection, accountIds }, caller, deps) => {
    const ref = deps.db.doc(integrationPath(caller.uid, providerId));
    const read = async () => {
      const snapshot = await ref.get();
      if (!snapshot.exists) {
        throw notFound(providerId);
      }
      const parsed = integrationSchema.safeParse(snapshot.data());
      if (!parsed.success) {
        throw new AppError("unavailable", "The integration cannot be read; try again later", {
          retryAfterSeconds: 60,
        });
      }
      return parsed.data;
    };
    const integration = await read();
    const updates: unknown[] = [];
    if (selection !== undefined) {
      updates.push("accountSelection", selection);
    }
    if (accountIds !== undefined) {
      const chosen = new Set(accountIds.map((id) => canonicalAccountId(providerId, id)));
      const unknown = accountIds.filter(
        (id) => integration.accounts[canonicalAccountId(providerId, id)] === undefined,
      );
      if (unknown.length > 0) {
        throw invalidBodyField(
          "accountIds",
          `not accounts this integration's discovery found: ${unknown.slice(0, 10).join(", ")}`,
        );
      }
      for (const canonicalId of Object.keys(integration.accounts)) {
        updates.push(new FieldPath("accounts", canonicalId, "selected"), chosen.has(canonicalId));
      }
    }
    if (updates.length > 0) {
      const [field, value, ...more] = updates as [string | FieldPath, unknown, ...unknown[]];
      await ref.update(field, value, ...more);
    }
    const updated = await read();
    deps.logger.info("account selection updated", {
      uid: caller.uid,
      providerId,
      selection: updated.accountSelection,
    });
    return {
      status: 200,
      body: {
        success: true,
        providerId,
        accountSelection: updated.accountSelection,
        accountIds: syncedAccountIds(updated),
        accounts: Object.values(updated.accounts).map(accountView),
      },
    };
  },
});

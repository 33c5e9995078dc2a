/**
 * PATCH /api/integrations/automation — the dashboard's "Automation controls" (any signed-in
 * user, on their own integrations only).
 *
 * Request (strict): `{providerId: "google" | "meta" | "linkedin" | "tiktok", autoSync?: boolean,
 * cadenceHours?: 1 | 2 | 3 | 4 | 6 | 8 | 12 | 24, lookbackDays?: 1..90 | null}` with at least
 * one setting; the rules are those of `automationSchema` (`null` lookback = the platform's
 * default). Updates `users/{caller}/integrations/{providerId}.automation` (404 `not_found`
 * when the caller has no such integration); the next scheduler run honours it.
 *
 * Response: `{success: true, providerId, automation: {autoSync, cadenceHours, lookbackDays}}`.
 */
import { z } from "zod";

import { automationSchema, integrationPath, integrationSchema } from "../integrations/model";
import { AppError } from "../shared/errors";
import { defineEndpoint } from "./context";
import { parseBody, providerIdField } from "./validation";

const automationRequestSchema = z
  .strictObject(automationSchema.shape)
  .partial()
  .extend({ providerId: providerIdField })
  .refine(
    (body) =>
      body.autoSync !== undefined ||
      body.cadenceHours !== undefined ||
      body.lookbackDays !== undefined,
    { error: "give at least one of autoSync, cadenceHours, lookbackDays" },
  );

export const handleAutomation = defineEndpoint({
  name: "automation",
  method: "PATCH",
  access: "user",
  parse: (req) => parseBody(automationRequestSchema, req.body),
  run: async ({ providerId, ...changes }, caller, deps) => {
    const ref = deps.db.doc(integrationPath(caller.uid, providerId));
    // Read-merge-write in a transaction: the stored document may lack `automation` (defaults
    // apply on read), so a partial dotted update could leave an incomplete settings object.
    const automation = await deps.db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      if (!snapshot.exists) {
        throw new AppError("not_found", `You have no ${providerId} integration`);
      }
      const current = integrationSchema.parse(snapshot.data()).automation;
      const next = automationSchema.parse({ ...current, ...changes });
      // A merge keeps settings this code does not know (written by newer code) in the map.
      tx.set(ref, { automation: next }, { merge: true });
      return next;
    });
    deps.logger.info("automation updated", { uid: caller.uid, providerId, ...automation });
    return { status: 200, body: { success: true, providerId, automation } };
  },
});

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
import { FieldPath } from "firebase-admin/firestore";
import { z } from "zod";

import { automationFields, automationSchema, integrationPath } from "../integrations/model";
import { AppError } from "../shared/errors";
import { hasFirestoreCode } from "../shared/firestore-errors";
import { defineEndpoint } from "./context";
import { parseBody, providerIdField } from "./validation";

const automationRequestSchema = z
  .strictObject(automationFields)
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
    // Only the named settings, as field updates: no read-modify-write, so concurrent changes
    // never contend (each setting defaults on its own when read). `update` fails on a missing
    // document, which is the caller's missing integration.
    const fields = Object.entries(changes).flatMap(([name, value]) =>
      value === undefined ? [] : [new FieldPath("automation", name), value as unknown],
    );
    const [first, firstValue, ...more] = fields as [FieldPath, unknown, ...unknown[]];
    try {
      await ref.update(first, firstValue, ...more);
    } catch (error) {
      if (hasFirestoreCode(error, "NOT_FOUND")) {
        throw new AppError("not_found", `You have no ${providerId} integration`);
      }
      throw error;
    }
    const automation = automationSchema.parse((await ref.get()).get("automation") ?? {});
    deps.logger.info("automation updated", { uid: caller.uid, providerId, ...automation });
    return { status: 200, body: { success: true, providerId, automation } };
  },
});

/**
 * The re-encryption pass that ends a key rotation, against the official Firestore emulator: through
 * its function and through the operator's command, `dev/reencrypt-credentials.ts`.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";

import type { Firestore } from "firebase-admin/firestore";

import {
  openCredentials,
  reencryptCredentials,
  reencryptDocument,
  writeCredentials,
} from "../../../src/integrations/credentials";
import { sealedKeyId } from "../../../src/integrations/crypto";
import { credentialsPath } from "../../../src/integrations/model";
import { requireTokenKeys } from "../../../src/integrations/token-keys";
import type { Credentials, ProviderId } from "../../../src/providers/types";
import { type TestFirestore, testFirestore } from "../../harness/firestore";

const execFileAsync = promisify(execFile);

const material = Object.fromEntries(
  ["k0", "k1", "k2"].map((id) => [id, randomBytes(32).toString("base64")]),
);
const keysValue = (current: string, ids: string[]) =>
  JSON.stringify({ current, keys: Object.fromEntries(ids.map((id) => [id, material[id]])) });
const keyring = (current: string, ids: string[]) =>
  requireTokenKeys({ TOKEN_ENCRYPTION_KEYS: keysValue(current, ids) });
const oldKeys = keyring("k1", ["k1"]);
const rotation = keyring("k2", ["k1", "k2"]);
const afterRotation = keyring("k2", ["k2"]);

const projects: TestFirestore[] = [];
afterAll(() => Promise.all(projects.map((project) => project.close())));

function freshProject(label: string): TestFirestore {
  const project = testFirestore(label);
  projects.push(project);
  return project;
}

const tokens = (refreshable = true): Credentials => ({
  accessToken: `EAA${randomBytes(24).toString("base64url")}`,
  ...(refreshable ? { refreshToken: `rt-${randomBytes(24).toString("base64url")}` } : {}),
  expiresAt: Date.UTC(2100, 0, 1),
});

const raw = async (db: Firestore, userId: string, providerId: ProviderId) =>
  (await db.doc(credentialsPath(userId, providerId)).get()).data() ?? {};

describe("reencryptCredentials", () => {
  let db: Firestore;
  const stored: Record<string, Credentials> = {};

  beforeAll(async () => {
    db = freshProject("reencrypt").db;
    stored.old = tokens();
    stored.oldNoRefresh = tokens(false);
    stored.current = tokens();
    stored.legacy = tokens();
    await writeCredentials(db, oldKeys, "old", "google", stored.old);
    await writeCredentials(db, oldKeys, "old-no-refresh", "meta", stored.oldNoRefresh);
    await writeCredentials(db, rotation, "current", "linkedin", stored.current);
    // Written before tokens were encrypted.
    await db.doc(credentialsPath("legacy", "tiktok")).set({
      accessToken: stored.legacy.accessToken,
      refreshToken: stored.legacy.refreshToken,
      expiresAt: null,
    });
    // Sealed for another user's document, then copied here: it must stay unreadable.
    await writeCredentials(db, oldKeys, "victim", "google", tokens());
    await db.doc(credentialsPath("moved", "google")).set(await raw(db, "victim", "google"));
    // Sealed with a key that has already been dropped.
    await writeCredentials(db, keyring("k0", ["k0"]), "dropped", "google", tokens());
    // Another `private` collection: not credentials, never touched.
    await db.doc("users/old/private/profile").set({ note: "not credentials" });
  });

  const expected = {
    scanned: 7,
    sealedWith: { k0: 1, k1: 4, k2: 1, unsealed: 1 },
    current: 1,
    rewritten: 4,
    changedMeanwhile: 0,
    unreadable: { credentials_key_unknown: 1, credentials_unreadable: 1 },
  };

  it("in a dry run, reports what it would do and writes nothing", async () => {
    const before = (await db.collectionGroup("private").get()).docs.map((doc) => doc.data());
    expect(await reencryptCredentials(db, rotation, { dryRun: true })).toEqual(expected);
    const after = (await db.collectionGroup("private").get()).docs.map((doc) => doc.data());
    expect(after).toEqual(before);
  });

  it("seals everything it can open under the current key, page by page", async () => {
    const moved = await raw(db, "moved", "google");
    expect(await reencryptCredentials(db, rotation, { pageSize: 2 })).toEqual(expected);
    for (const [userId, providerId, name] of [
      ["old", "google", "old"],
      ["old-no-refresh", "meta", "oldNoRefresh"],
      ["current", "linkedin", "current"],
    ] as const) {
      const data = await raw(db, userId, providerId);
      expect(sealedKeyId(String(data.accessToken))).toBe("k2");
      expect(openCredentials(afterRotation, userId, providerId, data)).toEqual(stored[name]);
    }
    const legacy = await raw(db, "legacy", "tiktok");
    expect(JSON.stringify(legacy)).not.toContain(stored.legacy!.accessToken);
    expect(openCredentials(afterRotation, "legacy", "tiktok", legacy)).toEqual({
      accessToken: stored.legacy!.accessToken,
      refreshToken: stored.legacy!.refreshToken,
    });
    expect(await raw(db, "moved", "google")).toEqual(moved);
    expect((await db.doc("users/old/private/profile").get()).data()).toEqual({
      note: "not credentials",
    });
  });

  it("has nothing left to do on a second run but what it cannot open", async () => {
    expect(await reencryptCredentials(db, rotation)).toEqual({
      scanned: 7,
      sealedWith: { k0: 1, k1: 1, k2: 5 },
      current: 5,
      rewritten: 0,
      changedMeanwhile: 0,
      unreadable: { credentials_key_unknown: 1, credentials_unreadable: 1 },
    });
  });
});

describe("reencryptDocument", () => {
  it("leaves a document written since it was read: the newer tokens win", async () => {
    const { db } = freshProject("reencrypt-race");
    await writeCredentials(db, oldKeys, "racer", "google", tokens());
    const [read] = (await db.doc(credentialsPath("racer", "google")).parent.get()).docs;
    // A job refreshes the tokens between the pass's read and its write.
    const refreshed = tokens();
    await writeCredentials(db, rotation, "racer", "google", refreshed);
    expect(await reencryptDocument(rotation, read!, false)).toEqual({
      sealedWith: "k1",
      result: "changedMeanwhile",
    });
    expect(
      openCredentials(afterRotation, "racer", "google", await raw(db, "racer", "google")),
    ).toEqual(refreshed);
  });
});

describe("dev/reencrypt-credentials.ts", () => {
  const script = join(__dirname, "../../../dev/reencrypt-credentials.ts");

  async function runCommand(env: Record<string, string | undefined>, args: string[] = []) {
    try {
      const { stdout, stderr } = await execFileAsync(
        process.execPath,
        [require.resolve("tsx/cli"), script, ...args],
        { env: { ...process.env, TOKEN_ENCRYPTION_KEYS: undefined, ...env } },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  it("rewrites a project's credentials under the new key and prints counts only", async () => {
    const project = freshProject("reencrypt-cli");
    const seeded = [tokens(), tokens()];
    await writeCredentials(project.db, oldKeys, "a", "google", seeded[0]!);
    await writeCredentials(project.db, oldKeys, "b", "meta", seeded[1]!);
    const { code, stdout } = await runCommand({
      GCLOUD_PROJECT: project.projectId,
      TOKEN_ENCRYPTION_KEYS: keysValue("k2", ["k1", "k2"]),
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      projectId: project.projectId,
      currentKey: "k2",
      dryRun: false,
      scanned: 2,
      rewritten: 2,
      unreadable: {},
    });
    expect(sealedKeyId(String((await raw(project.db, "a", "google")).accessToken))).toBe("k2");
    for (const secret of [
      ...seeded.flatMap((credentials) => [credentials.accessToken, credentials.refreshToken!]),
      ...Object.values(material),
    ]) {
      expect(stdout).not.toContain(secret);
    }
  }, 30_000);

  it("exits 1 naming the variable when the keys are missing, and 2 on unknown arguments", async () => {
    const missing = await runCommand({ GCLOUD_PROJECT: "demo-reencrypt-none" });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("TOKEN_ENCRYPTION_KEYS is required but not set");
    const usage = await runCommand({ GCLOUD_PROJECT: "demo-reencrypt-none" }, ["--all"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("usage:");
  }, 30_000);
});

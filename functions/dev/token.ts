/**
 * `npm run token -- <email>`: prints a Firebase ID token for `email` from the running local
 * stack's Auth emulator, so that the guide's `Authorization: Bearer …` commands can be tried:
 *
 *     TOKEN=$(npm run -s token -- admin@example.com)
 *
 * The token comes from the emulator's own sign-in REST API with the local password. An address
 * the emulator does not know yet is added first as a verified user (admin or not stays the
 * functions' decision: ADMIN_EMAILS or an `admin` claim). Only the token goes to stdout.
 */
import {
  LOCAL_PASSWORD,
  LOCAL_PROJECT_ID,
  localPorts,
  readLocalEnv,
  requireRunning,
  useEmulators,
} from "./local-config";
import { DEMO_USERS } from "./sandbox";

interface SignInAnswer {
  idToken?: string;
  error?: { message?: string };
}

async function signIn(authHost: string, email: string): Promise<SignInAnswer> {
  const response = await fetch(
    `http://${authHost}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=local`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: LOCAL_PASSWORD, returnSecureToken: true }),
    },
  );
  return (await response.json()) as SignInAnswer;
}

async function addUser(authHost: string, email: string): Promise<void> {
  useEmulators({ auth: authHost });
  const { initializeApp } = await import("firebase-admin/app");
  const { getAuth } = await import("firebase-admin/auth");
  const { ensureAuthUser } = await import("./seed");
  const demo = DEMO_USERS.find((user) => user.email === email);
  const auth = getAuth(initializeApp({ projectId: LOCAL_PROJECT_ID }, "local-token"));
  const uid = await ensureAuthUser(
    auth,
    { uid: demo?.userId ?? `local-${email.replace(/[^a-z0-9]/g, "-")}`, email },
    LOCAL_PASSWORD,
  );
  console.error(`Added ${email} (uid ${uid}) to the local Auth emulator.`);
}

async function main(): Promise<void> {
  const email = process.argv[2]?.trim().toLowerCase() ?? "";
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
    console.error(
      "usage: npm run -s token -- <email>   (e.g. admin@example.com, alice@example.com)",
    );
    process.exit(2);
  }
  const authHost = await requireRunning(
    localPorts(readLocalEnv()).auth,
    "Auth emulator",
    "AUTH_PORT or FIREBASE_AUTH_EMULATOR_HOST",
  );
  let answer = await signIn(authHost, email);
  if (!answer.idToken) {
    // Unknown address, or a user someone gave another password: make it a local user.
    await addUser(authHost, email);
    answer = await signIn(authHost, email);
  }
  if (!answer.idToken) {
    throw new Error(
      `The Auth emulator refused to sign in ${email}: ${answer.error?.message ?? "?"}`,
    );
  }
  process.stdout.write(`${answer.idToken}\n`);
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });

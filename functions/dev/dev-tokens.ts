/**
 * Local stack only: `POST /__dev/token?email=…` mints a Firebase ID token from the local Auth
 * stand-in, so the guide's `Authorization: Bearer …` curl commands can be tried offline.
 * Minted addresses count as verified; whether the caller is an admin stays the functions'
 * decision (ADMIN_EMAILS or an admin claim). The demo users' e-mails map to
 * their demo accounts. The token is returned as plain text for `$(curl …)`.
 */
import type { RunningAuthEmulator } from "./auth-emulator";
import type { DevRoute } from "./local-app";
import { DEMO_USERS } from "./sandbox";

export function devTokenRoute(auth: RunningAuthEmulator): DevRoute {
  return {
    method: "post",
    path: "/__dev/token",
    handler: (req, res) => {
      const email = typeof req.query.email === "string" ? req.query.email.trim().toLowerCase() : "";
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
        res
          .status(400)
          .type("text/plain")
          .send("usage: POST /__dev/token?email=someone@example.com\n");
        return;
      }
      const demo = DEMO_USERS.find((user) => user.email === email);
      const uid = demo?.userId ?? `dev-${email.replace(/[^a-z0-9]/g, "-")}`;
      const token = auth.mintIdToken({ uid, email, emailVerified: true });
      res.type("text/plain").send(`${token}\n`);
    },
  };
}

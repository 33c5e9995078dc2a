/**
 * A stand-in for a Slack or Teams incoming webhook: a loopback HTTP server that accepts the
 * scheduler's alert payloads (`{"text": …}`), keeps them, and hands each to `onMessage`. `npm start`
 * points SCHEDULER_ALERT_WEBHOOK_URL at it when the variable is unset and prints every message;
 * the tests read `messages` and switch `answer` to play a failing or slow webhook.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedAlert {
  text: string;
  receivedAt: Date;
}

/** How the receiver answers: Slack answers 200 "ok"; a broken webhook answers 5xx or hangs. */
export interface ReceiverAnswer {
  status: number;
  /** Hold the answer this long (a slow webhook). */
  delayMs: number;
}

export interface RunningWebhookReceiver {
  /** The URL to set as SCHEDULER_ALERT_WEBHOOK_URL. */
  url: string;
  messages: ReceivedAlert[];
  answer: ReceiverAnswer;
  stop(): Promise<void>;
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });

/** Only the payload alerts send; anything else is refused as Slack would (400). */
function alertText(raw: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(raw);
    const text = (parsed as { text?: unknown } | null)?.text;
    return typeof text === "string" && text.length > 0 ? text : undefined;
  } catch {
    return undefined;
  }
}

export async function startWebhookReceiver(
  options: { port?: number; onMessage?: (alert: ReceivedAlert) => void } = {},
): Promise<RunningWebhookReceiver> {
  const messages: ReceivedAlert[] = [];
  const answer: ReceiverAnswer = { status: 200, delayMs: 0 };
  const timers = new Set<NodeJS.Timeout>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const text = req.method === "POST" ? alertText(await readBody(req)) : undefined;
    if (text === undefined) {
      res.writeHead(400, { "content-type": "text/plain" }).end("invalid_payload");
      return;
    }
    const alert = { text, receivedAt: new Date() };
    messages.push(alert);
    options.onMessage?.(alert);
    const reply = () => {
      res.writeHead(answer.status, { "content-type": "text/plain" });
      res.end(answer.status < 300 ? "ok" : "error");
    };
    if (answer.delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply();
      }, answer.delayMs);
      timers.add(timer);
    } else {
      reply();
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    messages,
    answer,
    stop: () =>
      new Promise<void>((resolve) => {
        timers.forEach((timer) => clearTimeout(timer));
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

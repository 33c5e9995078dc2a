import { createServer } from "node:net";

/** Listens on `port` (0 = any) on loopback, then releases it; resolves the bound port. */
async function probe(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") {
          resolve(address.port);
        } else {
          reject(new Error("could not determine the bound port"));
        }
      });
    });
  });
}

/** A free TCP port on the loopback interface, chosen by the OS. */
export const freePort = (): Promise<number> => probe(0);

export async function isPortFree(port: number): Promise<boolean> {
  try {
    await probe(port);
    return true;
  } catch {
    return false;
  }
}

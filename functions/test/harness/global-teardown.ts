export default function globalTeardown(): void {
  globalThis.__FIRESTORE_SERVER__?.stop();
  globalThis.__FIRESTORE_SERVER__ = undefined;
}

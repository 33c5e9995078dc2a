export default async function globalTeardown(): Promise<void> {
  await globalThis.__EMULATORS__?.stop();
  globalThis.__EMULATORS__ = undefined;
}

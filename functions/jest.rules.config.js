/**
 * Security-rules tests: they need the official Firestore emulator's rules engine, so they run
 * only under `npm run test:emulator` (after the main suite), never in `npm test`.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test/rules"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.json" }] },
  testTimeout: 30000,
};

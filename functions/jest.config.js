/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // Security-rules tests need the official emulator: jest.rules.config.js, `npm run test:emulator`.
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/rules/"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.json" }] },
  globalSetup: "<rootDir>/test/harness/global-setup.ts",
  globalTeardown: "<rootDir>/test/harness/global-teardown.ts",
  maxWorkers: 2,
  testTimeout: 20000,
};

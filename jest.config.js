/** Unit, service, infra and client tests: `npm test`. The host test has its own config. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/host/"],
  testTimeout: 30000,
  // the real Claude Code CLI for test/claude, pinned and cached outside the clone
  globalSetup: "<rootDir>/test/claude/globalSetup.ts",
};

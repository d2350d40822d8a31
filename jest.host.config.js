/** The end-to-end host test: a throwaway Debian host with systemd as PID 1 (needs root). */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/test/host"],
  testMatch: ["**/*.test.ts"],
  testTimeout: 900000,
};

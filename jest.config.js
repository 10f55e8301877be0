/**
 * Two suites: fast unit tests, and end-to-end tests that run `pulumi` against local containers.
 * ts-jest only transpiles (`isolatedModules`): the types are checked once, by `make typecheck`.
 */
const common = { testEnvironment: "node", transform: { "^.+\\.ts$": ["ts-jest", { isolatedModules: true }] } };
module.exports = {
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: ["<rootDir>/test/unit/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/unit/setup.ts"],
    },
    { ...common, displayName: "e2e", testMatch: ["<rootDir>/test/e2e/**/*.test.ts"], slowTestThreshold: 3600 },
  ],
};

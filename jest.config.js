/** Two suites: fast unit tests, and end-to-end tests that run `pulumi` against local containers. */
const common = { preset: "ts-jest", testEnvironment: "node" };
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

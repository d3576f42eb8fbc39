/**
 * Mutation testing of the security code (`npm run mutate`; slow, not in CI).
 * StrykerJS changes one operator, condition or literal at a time in the files
 * of `mutate` and runs the tests that cover it; a mutant no test notices
 * ("survived") is a loosened rule the suite would let through.
 *
 * Only the test files that exercise these files run (vitest.mutate.config.ts),
 * against the embedded store alone (TEST_STORES=embedded, set by the npm
 * script); the vitest globalSetup starts it inside Stryker's sandbox copy.
 */
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    'src/security/access.ts',
    'src/security/auth.ts',
    'src/security/csrf.ts',
    'src/graphql/plugins/use-document-limits.ts',
    'src/graphql/plugins/use-store-call-limit.ts',
    'src/graphql/cost.ts',
    'src/core/validation.ts',
  ],
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  coverageAnalysis: 'perTest',
  // Two cores at most; the suite's own servers need the rest.
  concurrency: 2,
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};

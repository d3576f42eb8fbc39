import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The vitest configuration of `npm run mutate` (stryker.config.mjs): the
 * suite's own, with only the test files that exercise the mutated security
 * code. The files are chosen here and not with Stryker's `testFiles`, which
 * activates mutants in module-level code (the rule table, the CSRF content
 * types) only after the modules are loaded, so those would all "survive"
 * (stryker-js issue #6144).
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/auth.test.ts',
      'test/security/access.test.ts',
      'test/security/policy.test.ts',
      'test/security/csrf.test.ts',
      'test/security/limits.test.ts',
      'test/security/cost.test.ts',
      'test/http/csrf.test.ts',
      'test/graphql/validation.test.ts',
      'test/graphql/multipart.test.ts',
    ],
  },
});

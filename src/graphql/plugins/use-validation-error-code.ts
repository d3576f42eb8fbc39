import type { Plugin } from 'graphql-yoga';
import type { ErrorCode } from '../../core/errors.js';

/**
 * Validation errors (which Yoga returns without masking) get the contract's
 * BAD_USER_INPUT code instead of Yoga's GRAPHQL_VALIDATION_FAILED. Runs
 * before Yoga's own validation hook, which keeps a code that is already set;
 * a code set by an earlier rule (the document limits') stays. It takes no
 * options.
 */
export function useValidationErrorCode<TContext extends object = object>(): Plugin<TContext> {
  return {
    onValidate() {
      return ({ valid, result }) => {
        if (valid) return;
        for (const error of result)
          (error.extensions as Record<string, unknown>).code ??= 'BAD_USER_INPUT' satisfies ErrorCode;
      };
    },
  };
}

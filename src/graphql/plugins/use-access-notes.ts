import { getOperationAST, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { currentRequestScope } from '../../core/request-scope.js';

/**
 * A Yoga plugin that notes the name of every operation a request asks for
 * (null for an anonymous one) in its request scope, for the server's access
 * line (src/http/server.ts): noted once parsed, so an operation refused
 * before it runs (a limit, a validation error) is named too. It takes no
 * options.
 */
export function useAccessNotes<TContext extends object = object>(): Plugin<TContext> {
  return {
    onParse({ context }) {
      return ({ result }) => {
        const notes = currentRequestScope()?.notes;
        if (!notes || result === null || result instanceof Error) return;
        const operationName = (context as { params?: { operationName?: string | null } }).params?.operationName;
        const operation = getOperationAST(result as DocumentNode, operationName ?? undefined);
        notes.operations = [...(notes.operations ?? []), operation?.name?.value ?? null];
      };
    },
  };
}

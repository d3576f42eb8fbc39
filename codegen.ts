import type { CodegenConfig } from '@graphql-codegen/cli';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './src/graphql/schema/index.js';

/**
 * `npm run codegen`:
 * - `schema.graphql`: the schema the server serves, printed from the Pothos
 *   code (sorted), checked in so reviews show API changes;
 * - `test/graphql/__generated__/`: typed documents for the operations in
 *   `test/graphql/documents/`, which the GraphQL tests send.
 *
 * Importing the schema reads no environment and opens no connection.
 */
const config: CodegenConfig = {
  schema: printSchema(lexicographicSortSchema(schema)),
  documents: ['test/graphql/documents/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'schema.graphql': {
      plugins: ['schema-ast'],
      config: { sort: true },
    },
    'test/graphql/__generated__/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: 'string',
        useTypeImports: true,
        enumsAsTypes: true,
        emitLegacyCommonJSImports: false,
        scalars: {
          DateTime: 'string',
          SafeInt: 'number',
          Upload: 'File | Blob | null',
        },
      },
    },
  },
};

export default config;

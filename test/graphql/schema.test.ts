/**
 * The checked-in schema.graphql is what the code builds, and every part of
 * the schema says what it means.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema/index.js';

// The schema is built by Pothos with the `graphql` that Node resolves (the
// CommonJS build); functions that check types with `instanceof` must come
// from the same copy, whatever build a test loader would pick for `import`.
const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');

describe('schema', () => {
  it('schema.graphql is up to date (run `npm run codegen` after changing src/schema)', () => {
    const printed = graphql.printSchema(graphql.lexicographicSortSchema(schema));
    const checkedIn = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(checkedIn).toBe(printed);
  });

  it('every type, field, argument, input field and enum value has a description', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || graphql.isSpecifiedScalarType(type)) continue;
      if (!type.description) missing.push(type.name);
      if (graphql.isObjectType(type) || graphql.isInterfaceType(type) || graphql.isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (graphql.isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('sizes are SafeInt and dates DateTime, never Int or String', () => {
    const object = schema.getType('Object') as import('graphql').GraphQLObjectType;
    expect(String(object.getFields().size!.type)).toBe('SafeInt!');
    expect(String(object.getFields().lastModified!.type)).toBe('DateTime!');
    const bucket = schema.getType('Bucket') as import('graphql').GraphQLObjectType;
    expect(String(bucket.getFields().createdAt!.type)).toBe('DateTime');
  });
});

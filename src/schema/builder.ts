import SchemaBuilder from '@pothos/core';
import SimpleObjectsPlugin from '@pothos/plugin-simple-objects';
import type { FileUpload } from 'graphql-upload-minimal';
import type { Context } from '../context.js';

/**
 * The one Pothos builder: its plugins, scalar shapes and the root types.
 * Type files (`bucket.ts`, `object.ts`, ...) add to it; `index.ts` calls
 * `toSchema()` once they are all loaded. This file imports no type file.
 *
 * Fields are non-null unless they say `nullable: true`; arguments are
 * optional unless they say `required: true`.
 */
export interface SchemaTypes {
  Context: Context;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    SafeInt: { Input: number; Output: number };
    /** The promise graphql-upload-minimal resolves with the file once its part arrives. */
    Upload: { Input: Promise<FileUpload>; Output: never };
  };
}

export const builder = new SchemaBuilder<SchemaTypes>({
  plugins: [SimpleObjectsPlugin],
  defaultFieldNullability: false,
});

builder.queryType({
  description: 'Reads: buckets, objects and their listings.',
});

builder.mutationType({
  description: 'Writes. Top-level mutation fields run one after another, in the order given.',
});

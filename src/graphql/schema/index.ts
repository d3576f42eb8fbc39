/**
 * The GraphQL schema, built with Pothos: the builder and its plugins
 * (builder.ts, scope-auth rules from src/security/access.ts), scalars, and
 * one file per domain (bucket, object, multipart, upload-rules, viewer, cors) holding its types and root
 * fields. It knows the resolvers, never the store layer.
 */
import { builder } from './builder.js';
import './scalars.js';
import './object.js';
import './bucket.js';
import './multipart.js';
import './upload-rules.js';
import './presign-post.js';
import './viewer.js';
import './cors.js';

/** The GraphQL schema. Building it reads no environment and opens no connection. */
export const schema = builder.toSchema({ sortSchema: true });

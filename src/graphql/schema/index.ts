import { builder } from './builder.js';
import './scalars.js';
import './object.js';
import './bucket.js';
import './multipart.js';

/** The GraphQL schema. Building it reads no environment and opens no connection. */
export const schema = builder.toSchema({ sortSchema: true });

import type { Caller, Grant } from '../../security/auth.js';
import * as viewers from '../resolvers/viewer.js';
import { builder, fieldAccess } from './builder.js';

const RoleRef = builder.enumType('Role', {
  description: 'What a grant allows on its bucket. Roles nest: READ < WRITE < ADMIN.',
  values: {
    READ: { value: 'read', description: 'Read objects and listings.' },
    WRITE: { value: 'write', description: 'READ, and upload, copy and delete objects.' },
    ADMIN: { value: 'admin', description: 'WRITE, and create and delete the bucket.' },
  } as const,
});

const GrantRef = builder.objectRef<Grant>('Grant').implement({
  description: 'A role on a bucket, or on every bucket.',
  fields: (t) => ({
    bucket: t.exposeString('bucket', { description: 'A bucket name, or * for every bucket.' }),
    role: t.field({ type: RoleRef, description: 'The role granted.', resolve: (grant) => grant.role }),
  }),
});

const ViewerRef = builder.objectRef<Caller>('Viewer').implement({
  description: 'The caller: the API key it presented (or anonymous access) and its grants.',
  fields: (t) => ({
    name: t.string({
      nullable: true,
      description: "The API key's name; null for anonymous access.",
      resolve: (caller) => caller.name,
    }),
    anonymous: t.exposeBoolean('anonymous', {
      description: 'True when no API key was presented (no keys configured, or ALLOW_ANONYMOUS).',
    }),
    grants: t.field({
      type: [GrantRef],
      description: 'Every grant the caller holds (anonymous access: one ADMIN grant on *).',
      resolve: (caller) => caller.grants,
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    authScopes: fieldAccess('Query.viewer'),
    type: ViewerRef,
    description: 'Who is calling and what they may do; a console shows its actions by it.',
    resolve: (_root, args, ctx) => viewers.viewer(args, ctx),
  }),
}));

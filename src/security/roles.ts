/** The roles an API key's grant gives on a bucket. They nest: read < write < admin. */
export const ROLES = ['read', 'write', 'admin'] as const;
export type Role = (typeof ROLES)[number];

import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_MAX_QUERY_DEPTH,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  loadConfig,
} from '../src/config/index.js';
import { parseByteSize } from '../src/config/sizes.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('has working defaults: embedded store on loopback', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.store.endpoint).toBeUndefined();
    expect(c.store.region).toBe('us-east-1');
    expect(c.store.forcePathStyle).toBe(true);
    expect(c.store.checksum).toBe('when_required');
    expect(c.dataDir).toBe('./data');
    expect(c.embeddedPort).toBe(9000);
    expect(c.maxUploadBytes).toBe(5 * 1024 ** 3);
    expect(c.uploadPartSize).toBe(8 * 1024 ** 2);
    // On loopback to its own disk the embedded store is as fast with 2 parts in flight as with 4.
    expect(c.uploadQueueSize).toBe(2);
    expect(loadConfig({ UPLOAD_QUEUE_SIZE: '6' }).uploadQueueSize).toBe(6);
    expect(c.logLevel).toBe('info');
    expect(c.graphiql).toBe(true);
    expect(c.introspection).toBe(true);
  });

  it('reads a real store and defaults the public endpoint to it', () => {
    const c = loadConfig({
      S3_ENDPOINT: 'http://127.0.0.1:9000/',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'false',
      S3_CHECKSUM: 'when_supported',
      MAX_UPLOAD_BYTES: '512MiB',
    });
    expect(c.store.endpoint).toBe('http://127.0.0.1:9000');
    expect(c.store.publicEndpoint).toBe('http://127.0.0.1:9000');
    expect(c.store.forcePathStyle).toBe(false);
    expect(c.store.checksum).toBe('when_supported');
    expect(c.maxUploadBytes).toBe(512 * 1024 ** 2);
    expect(c.uploadQueueSize).toBe(4);
  });

  it('accepts the RUSTFS_* aliases', () => {
    const c = loadConfig({
      RUSTFS_ENDPOINT: 'http://127.0.0.1:9000',
      RUSTFS_ACCESS_KEY: 'rustfsadmin',
      RUSTFS_SECRET_KEY: 'rustfssecret',
    });
    expect(c.store.endpoint).toBe('http://127.0.0.1:9000');
    expect(c.store.accessKeyId).toBe('rustfsadmin');
    expect(c.store.secretAccessKey).toBe('rustfssecret');
  });

  it('names every problem on its own line, without echoing secrets', () => {
    const p = problems({
      PORT: 'eighty',
      S3_ENDPOINT: 'not a url',
      S3_CHECKSUM: 'always',
      MAX_UPLOAD_BYTES: 'lots',
      S3_SECRET_ACCESS_KEY: '',
      LOG_LEVEL: 'loud',
    });
    expect(p.map((l) => l.split(':')[0]).sort()).toEqual(
      ['LOG_LEVEL', 'MAX_UPLOAD_BYTES', 'PORT', 'S3_CHECKSUM', 'S3_ENDPOINT'].sort(),
    );
    expect(p.find((l) => l.startsWith('PORT'))).toContain('"eighty"');
  });

  it('requires credentials with an endpoint', () => {
    expect(problems({ S3_ENDPOINT: 'http://127.0.0.1:9000' })).toEqual([
      'S3_ACCESS_KEY_ID: required when S3_ENDPOINT is set',
      'S3_SECRET_ACCESS_KEY: required when S3_ENDPOINT is set',
    ]);
  });

  it('refuses an alias that conflicts with its variable', () => {
    const p = problems({ S3_ACCESS_KEY_ID: 'a', RUSTFS_ACCESS_KEY: 'b', S3_SECRET_ACCESS_KEY: 'c' });
    expect(p).toContain('RUSTFS_ACCESS_KEY: conflicts with S3_ACCESS_KEY_ID; set only one of them');
  });

  it('refuses a non-loopback HOST without keys or ALLOW_ANONYMOUS', () => {
    expect(problems({ HOST: '0.0.0.0' })[0]).toMatch(/^HOST: 0\.0\.0\.0 is not a loopback address/);
    expect(loadConfig({ HOST: '0.0.0.0', ALLOW_ANONYMOUS: 'true' }).allowAnonymous).toBe(true);
    expect(loadConfig({ HOST: '::1' }).host).toBe('::1');
  });

  it('reads API keys inline and from a file, turning GraphiQL and introspection off by default', () => {
    const token = 'a-token-of-enough-length';
    const inline = JSON.stringify({ keys: [{ name: 'reader', token, grants: [{ bucket: '*', role: 'read' }] }] });
    const c = loadConfig({ API_KEYS: inline, HOST: '0.0.0.0' });
    expect(c.apiKeys).toHaveLength(1);
    expect(c.graphiql).toBe(false);
    expect(c.introspection).toBe(false);
    expect(loadConfig({ API_KEYS: inline, GRAPHIQL: 'true' }).graphiql).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), 's3gql-config-'));
    try {
      const file = join(dir, 'keys.json');
      const sha = createHash('sha256').update(token).digest('hex');
      writeFileSync(
        file,
        JSON.stringify({
          keys: [{ name: 'w', tokenSha256: sha.toUpperCase(), grants: [{ bucket: 'photos', role: 'write' }] }],
        }),
      );
      expect(loadConfig({ API_KEYS_FILE: file }).apiKeys[0]!.tokenSha256).toBe(sha);
      expect(problems({ API_KEYS_FILE: join(dir, 'missing.json') })[0]).toMatch(
        /^API_KEYS_FILE: cannot read .* \(ENOENT\)$/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has limits against abuse, each a setting', () => {
    const c = loadConfig({});
    expect(c.maxJsonBodyBytes).toBe(1024 ** 2);
    expect(c.maxFilesPerRequest).toBe(10);
    expect(c.maxBatchOperations).toBe(10);
    expect(c.maxQueryDepth).toBe(DEFAULT_MAX_QUERY_DEPTH);
    expect(c.maxQueryAliases).toBe(30);
    expect(c.maxQueryDirectives).toBe(50);
    expect(c.maxQueryTokens).toBe(10_000);
    const set = loadConfig({
      MAX_JSON_BODY_BYTES: '64KiB',
      MAX_FILES_PER_REQUEST: '3',
      MAX_BATCH_OPERATIONS: '1',
      MAX_QUERY_DEPTH: '8',
      MAX_QUERY_ALIASES: '0',
      MAX_QUERY_DIRECTIVES: '5',
      MAX_QUERY_TOKENS: '2000',
      RATE_LIMIT_PER_MINUTE: '0',
    });
    expect([set.maxJsonBodyBytes, set.maxFilesPerRequest, set.maxBatchOperations, set.maxQueryDepth]).toEqual([
      65536, 3, 1, 8,
    ]);
    expect([set.maxQueryAliases, set.maxQueryDirectives, set.maxQueryTokens, set.rateLimitPerMinute]).toEqual([
      0, 5, 2000, 0,
    ]);
    expect(
      problems({ MAX_JSON_BODY_BYTES: '10', MAX_BATCH_OPERATIONS: '0', MAX_QUERY_DEPTH: 'deep' })
        .map((l) => l.split(':')[0])
        .sort(),
    ).toEqual(['MAX_BATCH_OPERATIONS', 'MAX_JSON_BODY_BYTES', 'MAX_QUERY_DEPTH']);
  });

  it('protects against slow clients and connection floods, each a setting', () => {
    const c = loadConfig({});
    expect([c.headersTimeoutMs, c.minUploadBytesPerSecond, c.uploadRateWindowMs]).toEqual([60_000, 1024, 30_000]);
    expect([c.maxConnections, c.maxConnectionsPerClient]).toEqual([1024, 64]);
    const set = loadConfig({
      HEADERS_TIMEOUT_MS: '10000',
      MIN_UPLOAD_BYTES_PER_SECOND: '4KiB',
      UPLOAD_RATE_WINDOW_MS: '60000',
      MAX_CONNECTIONS: '10000',
      MAX_CONNECTIONS_PER_CLIENT: '0',
    });
    expect([set.headersTimeoutMs, set.minUploadBytesPerSecond, set.uploadRateWindowMs]).toEqual([10_000, 4096, 60_000]);
    expect([set.maxConnections, set.maxConnectionsPerClient]).toEqual([10_000, 0]);
    expect(
      problems({
        HEADERS_TIMEOUT_MS: '0',
        MIN_UPLOAD_BYTES_PER_SECOND: 'fast',
        UPLOAD_RATE_WINDOW_MS: '10',
        MAX_CONNECTIONS: '0',
        MAX_CONNECTIONS_PER_CLIENT: '-1',
      })
        .map((l) => l.split(':')[0])
        .sort(),
    ).toEqual([
      'HEADERS_TIMEOUT_MS',
      'MAX_CONNECTIONS',
      'MAX_CONNECTIONS_PER_CLIENT',
      'MIN_UPLOAD_BYTES_PER_SECOND',
      'UPLOAD_RATE_WINDOW_MS',
    ]);
  });

  it('limits the request rate by default only where others can reach the server', () => {
    const keys = JSON.stringify({
      keys: [{ name: 'r', token: 'a-token-of-enough-length', grants: [{ bucket: '*', role: 'read' }] }],
    });
    expect(loadConfig({}).rateLimitPerMinute).toBe(0);
    expect(loadConfig({ API_KEYS: keys }).rateLimitPerMinute).toBe(DEFAULT_RATE_LIMIT_PER_MINUTE);
    expect(loadConfig({ HOST: '0.0.0.0', ALLOW_ANONYMOUS: 'true' }).rateLimitPerMinute).toBe(
      DEFAULT_RATE_LIMIT_PER_MINUTE,
    );
    expect(loadConfig({ API_KEYS: keys, RATE_LIMIT_PER_MINUTE: '60' }).rateLimitPerMinute).toBe(60);
  });

  it('reads REDIS_URL (never echoing it back) and SHUTDOWN_TIMEOUT_MS', () => {
    expect(loadConfig({})).toMatchObject({ redisUrl: undefined, shutdownTimeoutMs: 30_000 });
    expect(loadConfig({ REDIS_URL: 'redis://:pw@10.0.0.5:6379/2', SHUTDOWN_TIMEOUT_MS: '0' })).toMatchObject({
      redisUrl: 'redis://:pw@10.0.0.5:6379/2',
      shutdownTimeoutMs: 0,
    });
    const refused = problems({ REDIS_URL: 'http://:hunter2@cache:6379', SHUTDOWN_TIMEOUT_MS: 'soon' });
    expect(refused).toEqual([
      'REDIS_URL: must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379',
      expect.stringMatching(/^SHUTDOWN_TIMEOUT_MS: must be a whole number \(got "soon"\)$/),
    ]);
  });

  it('echoes a refused URL without its user:password@ (OTEL_EXPORTER_OTLP_ENDPOINT, S3_ENDPOINT, origins)', () => {
    const refused = problems({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://otel-user:otel-hunter2@collector:4318',
      S3_ENDPOINT: 'gopher://s3-user:s3-hunter2@store:9000',
    });
    expect(refused).toEqual([
      'S3_ENDPOINT: must be an http or https URL such as http://127.0.0.1:9000 (got "gopher://[redacted]@store:9000")',
      'OTEL_EXPORTER_OTLP_ENDPOINT: must be an http or https URL such as http://127.0.0.1:9000 (got "ftp://[redacted]@collector:4318")',
    ]);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-user:otel-hunter2@collector:4318' })).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT: must be an http or https URL such as http://127.0.0.1:9000 (got "[redacted]@collector:4318")',
    ]);
    const origin = problems({ PUBLIC_URL: 'https://web-user:web-hunter2@api.example.com', CORS_ORIGINS: 'x:y@z' });
    expect(origin).toEqual([
      'PUBLIC_URL: "https://[redacted]@api.example.com" has more than scheme://host[:port] (no path, query or user)',
      'CORS_ORIGINS: "[redacted]@z" is not an http or https origin',
    ]);
    const text = [...refused, ...origin].join('\n');
    for (const secret of ['otel-user', 'otel-hunter2', 's3-user', 's3-hunter2', 'web-user', 'web-hunter2'])
      expect(text).not.toContain(secret);
  });

  it('explains malformed API keys without showing them', () => {
    expect(problems({ API_KEYS: '{nope' })).toEqual([
      'API_KEYS: not valid JSON (expected {"keys":[{"name":…,"token":…,"grants":[…]}]})',
    ]);
    const p = problems({
      API_KEYS: JSON.stringify({
        keys: [{ name: 'x', token: 'short', grants: [{ bucket: '*', role: 'owner' }] }],
      }),
    });
    expect(p.some((l) => l.includes('keys.0.token') && l.includes('at least 16'))).toBe(true);
    expect(p.some((l) => l.includes('keys.0.grants.0.role'))).toBe(true);
    expect(p.join('\n')).not.toContain('short');
  });

  it('refuses a grant on something that is neither "*" nor a bucket name (a typo would grant nothing)', () => {
    const grant = (bucket: string) =>
      problems({
        API_KEYS: JSON.stringify({
          keys: [{ name: 'x', token: 'a-token-of-enough-length', grants: [{ bucket, role: 'read' }] }],
        }),
      });
    expect(grant('Photos')).toEqual([
      'API_KEYS: keys.0.grants.0.bucket: "Photos" is not "*" or a bucket name: it may contain only lower-case letters, digits, dots and hyphens',
    ]);
    expect(grant('')).toEqual([
      'API_KEYS: keys.0.grants.0.bucket: "" is not "*" or a bucket name: it must be 3 to 63 characters long',
    ]);
    expect(grant('photos')).toEqual([]);
    expect(grant('*')).toEqual([]);
  });
});

describe('UPLOAD_RULES', () => {
  it('reads rules inline or from a file: sizes with units, types lower-case, a named rule over *', () => {
    const inline = loadConfig({
      UPLOAD_RULES: JSON.stringify({
        photos: { maxBytes: '10MiB', contentTypes: ['Image/*', 'application/pdf'] },
        '*': { maxBytes: 1024 },
      }),
    }).uploadRules;
    expect(inline.ruleFor('photos')).toEqual({
      bucket: 'photos',
      maxBytes: 10 * 1024 ** 2,
      contentTypes: ['image/*', 'application/pdf'],
    });
    expect(inline.ruleFor('other')).toEqual({ bucket: '*', maxBytes: 1024, contentTypes: [] });
    expect(loadConfig({}).uploadRules.ruleFor('photos')).toBeUndefined();

    const dir = mkdtempSync(join(tmpdir(), 's3gql-rules-'));
    try {
      const file = join(dir, 'rules.json');
      writeFileSync(file, JSON.stringify({ docs: { contentTypes: ['text/plain'] }, '*': {} }));
      const rules = loadConfig({ UPLOAD_RULES_FILE: file }).uploadRules;
      expect(rules.ruleFor('docs')).toEqual({ bucket: 'docs', maxBytes: null, contentTypes: ['text/plain'] });
      expect(rules.ruleFor('other')).toEqual({ bucket: '*', maxBytes: null, contentTypes: [] });
      expect(problems({ UPLOAD_RULES_FILE: join(dir, 'missing.json') })).toEqual([
        `UPLOAD_RULES_FILE: cannot read ${join(dir, 'missing.json')} (ENOENT)`,
      ]);
      expect(problems({ UPLOAD_RULES: '{}', UPLOAD_RULES_FILE: file })).toEqual([
        'UPLOAD_RULES and UPLOAD_RULES_FILE: set one of them, not both',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names every problem on its own line: bad names, sizes, types, unknown fields', () => {
    expect(
      problems({
        UPLOAD_RULES: JSON.stringify({
          Photos: { maxBytes: 'lots' },
          docs: { maxbytes: 1, contentTypes: ['image', 'text/*', 7] },
          empty: { maxBytes: 0 },
          half: { maxBytes: 1.5 },
          '*': [],
        }),
      }),
    ).toEqual([
      'UPLOAD_RULES: Photos: is not "*" or a bucket name: it may contain only lower-case letters, digits, dots and hyphens',
      'UPLOAD_RULES: Photos.maxBytes: must be a whole number of bytes of at least 1, or a size such as "10MiB" (got "lots")',
      'UPLOAD_RULES: docs.contentTypes.0: "image" is not a media type "type/subtype" or "type/*"',
      'UPLOAD_RULES: docs.contentTypes.2: must be a string',
      'UPLOAD_RULES: docs: unknown field "maxbytes": a rule has only "maxBytes" and "contentTypes"',
      'UPLOAD_RULES: empty.maxBytes: must be a whole number of bytes of at least 1, or a size such as "10MiB" (got 0)',
      'UPLOAD_RULES: half.maxBytes: must be a whole number of bytes of at least 1, or a size such as "10MiB" (got 1.5)',
      'UPLOAD_RULES: *: must be an object {"maxBytes"?, "contentTypes"?}',
    ]);
    expect(problems({ UPLOAD_RULES: '[]' })).toEqual([
      'UPLOAD_RULES: (root): must be a JSON object keyed by bucket name or "*", e.g. {"photos":{"maxBytes":"10MiB","contentTypes":["image/*"]},"*":{"maxBytes":"1GiB"}}',
    ]);
    expect(problems({ UPLOAD_RULES: '{"photos": ' })[0]).toMatch(/^UPLOAD_RULES: not valid JSON/);
  });
});

describe('parseByteSize', () => {
  it('reads plain numbers and units', () => {
    expect(parseByteSize('1024')).toBe(1024);
    expect(parseByteSize('5GiB')).toBe(5 * 1024 ** 3);
    expect(parseByteSize('10 mb')).toBe(10_000_000);
    expect(parseByteSize('1.5k')).toBe(1536);
    expect(parseByteSize('5 parsecs')).toBeUndefined();
    expect(parseByteSize('-1')).toBeUndefined();
  });
});

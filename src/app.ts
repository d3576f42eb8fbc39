import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config, StoreSettings } from './config/index.js';
import { startEmbeddedStore, startEmbeddedStoreThread, type EmbeddedStore } from './embedded/index.js';
import { Metrics } from './observability/metrics.js';
import { createS3Client } from './s3/client.js';
import { createLeanReads } from './s3/lean-reads.js';
import { Store } from './s3/store.js';
import { createServer, EMBEDDED_PREFIX } from './http/server.js';
import type { DrainOutcome } from './http/drain.js';
import { createRateLimiter } from './security/rate-limit.js';
import { createYogaApp } from './graphql/yoga.js';

interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  metrics: Metrics;
}

export interface App extends AppDeps {
  server: Server;
  /** The embedded store when no S3_ENDPOINT is configured. */
  embedded: EmbeddedStore | undefined;
  /** The store settings in use (with the embedded store's address and keys filled in). */
  storeSettings: StoreSettings & { endpoint: string; accessKeyId: string; secretAccessKey: string };
  /**
   * Graceful shutdown (SIGTERM): /readyz 503, no new connections, requests in
   * flight finish for up to SHUTDOWN_TIMEOUT_MS and are then cut cleanly
   * (src/http/drain.ts); then `close()`.
   */
  drain(): Promise<DrainOutcome>;
  close(): Promise<void>;
}

/** `http://HOST:PORT` of a listening server, as PUBLIC_URL defaults to it (the actual port when PORT=0). */
function listeningAddress(server: Server): string {
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the API is not listening yet');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Builds the whole application from its settings: the embedded store when no
 * endpoint is configured, the one S3 client pair, the store layer, metrics,
 * Yoga and the HTTP server. Nothing listens on the API port yet.
 */
export interface AppOptions {
  /** Objects a store listing page asks for (default: S3's 1000); tests page through a few objects with less. */
  listPageSize?: number;
  /**
   * Where the embedded store runs: on its own worker thread (the default, a
   * core for the API and one for the store) or on the API's thread (the
   * benchmark compares the two).
   */
  embeddedStore?: 'worker' | 'same-thread';
  /** The embedded store's thread died (it is logged as fatal first); `npm start` exits. */
  onStoreCrash?: (err: Error) => void;
}

export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  let embedded: EmbeddedStore | undefined;
  let settings = config.store;
  if (settings.endpoint === undefined) {
    const storeLogger = logger.child({ component: 'embedded-store' });
    const storeOptions = {
      dataDir: config.dataDir,
      port: config.embeddedPort,
      region: settings.region,
      credentials:
        settings.accessKeyId !== undefined && settings.secretAccessKey !== undefined
          ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
          : undefined,
      // `/s3` on the API's port is reached at PUBLIC_URL/s3.
      ...(config.publicUrl !== undefined ? { mountOrigin: config.publicUrl } : {}),
      logger: storeLogger,
    };
    embedded =
      options.embeddedStore === 'same-thread'
        ? await startEmbeddedStore(storeOptions)
        : await startEmbeddedStoreThread({
            ...storeOptions,
            mountPath: EMBEDDED_PREFIX,
            onCrash(err) {
              storeLogger.fatal({ err }, 'the embedded store stopped: nothing can be stored or read until a restart');
              options.onStoreCrash?.(err);
            },
          });
    settings = {
      ...settings,
      endpoint: embedded.endpoint,
      accessKeyId: embedded.credentials.accessKeyId,
      secretAccessKey: embedded.credentials.secretAccessKey,
    };
  }
  const storeSettings = settings as App['storeSettings'];

  const metrics = new Metrics();
  const onCall = metrics.storeCall.bind(metrics);
  const s3Logger = logger.child({ component: 's3' });
  const client = createS3Client(storeSettings, { onCall, logger: s3Logger });
  // Presigned URLs of the embedded store point at `/s3` on the API's port, unless S3_PUBLIC_ENDPOINT says otherwise.
  const publicEndpoint =
    embedded && storeSettings.publicEndpoint === undefined
      ? () => `${config.publicUrl ?? listeningAddress(server)}${EMBEDDED_PREFIX}`
      : undefined;
  const presignClient = createS3Client(storeSettings, {
    onCall,
    forPresign: true,
    logger: s3Logger,
    ...(publicEndpoint && { publicEndpoint }),
  });
  const store = new Store(client, presignClient, {
    partSize: config.uploadPartSize,
    queueSize: config.uploadQueueSize,
    maxUploadBytes: config.maxUploadBytes,
    lean: createLeanReads(client, storeSettings, { onCall, debug: s3Logger.isLevelEnabled('debug') }),
    ...(options.listPageSize !== undefined ? { listPageSize: options.listPageSize } : {}),
  });
  // The settings of the store in use: with the embedded store's generated keys,
  // whose secret signs listing cursors unless CURSOR_SECRET is set.
  const deps: AppDeps = { config: { ...config, store: storeSettings }, store, logger, metrics };
  const yoga = createYogaApp(deps);
  const rateLimiter = await createRateLimiter(config, logger.child({ component: 'rate-limit' }), {
    shared: (up) => metrics.rateLimitShared(up),
  });
  const { server, drain } = createServer({ ...deps, yoga, embedded, rateLimiter });

  const close = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await rateLimiter.close();
    client.destroy();
    presignClient.destroy();
    await embedded?.close();
  };

  return {
    ...deps,
    server,
    embedded,
    storeSettings,
    async drain() {
      const outcome = await drain.drain(config.shutdownTimeoutMs, logger);
      await close();
      return outcome;
    },
    close,
  };
}

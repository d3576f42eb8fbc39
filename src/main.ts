import { once } from 'node:events';
import { createApp, type App } from './app.js';
import { type Config, ConfigError, loadConfig } from './config/index.js';
import { StartupError } from './embedded/index.js';
import { createLogger, SecretScrubber } from './observability/logger.js';
import { checkReady } from './http/routes/health.js';
import { nodeSupportNotice } from './s3/node-support.js';
import type { Tracing } from './observability/tracing.js';

/** Stops start-up with one clear line per problem, and no stack trace. */
function fail(lines: string[]): never {
  for (const line of lines) process.stderr.write(`s3-graphql: ${line}\n`);
  process.exit(1);
}

function describeStartupError(err: unknown, what: string): string {
  // The embedded store's own start-up errors already say what is wrong, port and address included.
  if (err instanceof StartupError) {
    const listening = ['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'].includes(err.code);
    return `${listening ? 'EMBEDDED_S3_PORT' : what}: ${err.message}`;
  }
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE') return `${what}: port ${e.port} on ${e.address} is already in use`;
  if (e.code === 'EADDRNOTAVAIL') return `${what}: address ${e.address} is not available on this machine`;
  if (e.code === 'EACCES' && e.syscall === 'listen') return `${what}: not allowed to listen on port ${e.port}`;
  return `${what}: ${e.message ?? String(err)}`;
}

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.problems);
    throw err;
  }
  const scrubber = new SecretScrubber();
  const logger = createLogger(config, { scrubber });
  // Imported only when on: without an endpoint no part of the OpenTelemetry SDK is loaded.
  let tracing: Tracing | undefined;
  if (config.tracing.otlpEndpoint !== undefined) {
    const { startTracing } = await import('./observability/tracing.js');
    tracing = await startTracing(config.tracing);
  }

  let app: App;
  try {
    // Without its store the API can only fail: end the process, for a supervisor (or the operator) to restart it.
    app = await createApp(config, logger, { onStoreCrash: () => process.exit(1) });
  } catch (err) {
    fail([describeStartupError(err, config.store.endpoint === undefined ? 'embedded store' : 'store')]);
  }
  // The embedded store's key pair may have been generated just now.
  scrubber.add(app.storeSettings.secretAccessKey);
  // A store that is down or refuses the keys does not stop an external set-up (the store may come up later,
  // and an orchestrator would only restart the server in a loop): /readyz answers 503 until it answers.
  try {
    await checkReady(app.store);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (app.embedded) {
      await app.close();
      fail([`embedded store: ${reason}`]);
    }
    logger.warn(
      { store: app.storeSettings.endpoint, reason },
      'the store is not ready; /readyz answers 503 until it is',
    );
  }

  app.server.listen(config.port, config.host);
  try {
    await Promise.race([
      once(app.server, 'listening'),
      once(app.server, 'error').then(([err]) => {
        throw err;
      }),
    ]);
  } catch (err) {
    await app.close();
    fail([describeStartupError(err, 'PORT')]);
  }

  // Before the banner: whoever waits for it (a supervisor, a test) may send SIGTERM the moment it appears.
  // A second signal while draining changes nothing: the drain has its own deadline (SHUTDOWN_TIMEOUT_MS).
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'draining: requests in flight may finish');
    app
      .drain()
      // The spans of the last requests are sent before the process ends.
      .then(async ({ cut }) => {
        await tracing?.shutdown();
        return cut;
      })
      .then(
        (cut) => {
          logger.info({ cut }, 'shut down');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutting down failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const lines = [`s3-graphql is serving GraphQL at http://${host}:${port}/graphql`];
  if (config.console) lines.push(`  console:    open http://${host}:${port}/ in a browser`);
  if (config.graphiql) lines.push(`  GraphiQL:   open http://${host}:${port}/graphql in a browser`);
  if (app.embedded) {
    lines.push(
      `  embedded S3 store: ${app.embedded.endpoint}  (data in ${config.dataDir})`,
      `  store key id:      ${app.embedded.credentials.accessKeyId}  (secret in ${config.dataDir}/.credentials.json)`,
    );
  } else {
    lines.push(`  store:      ${app.storeSettings.endpoint}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  // Once serving, so that a failed start still says only what stopped it.
  const notice = nodeSupportNotice();
  if (notice !== undefined) process.stderr.write(`s3-graphql: ${notice}\n`);
}

main().catch((err: unknown) => {
  fail([`unexpected start-up failure: ${err instanceof Error ? err.message : String(err)}`]);
});

/**
 * Builds GraphiQL's page (web/) into dist/web/ and the web console
 * (web/console/) into dist/web/console/ with Vite, and a gzip copy of each
 * script and style next to it; `npm ci` runs it (the `prepare` script).
 * They are two builds so that none of GraphiQL's code (Monaco) is in the
 * console's chunks.
 * Installs without the dev dependencies (the Docker image's runtime stage)
 * have no Vite: this says so and succeeds, the assets coming from the build
 * stage instead.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('../web/', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web/', import.meta.url));
const consoleDir = join(outDir, 'console');

let vite;
try {
  vite = await import('vite');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  console.log(
    'build-web: Vite is not installed (a production install), so GraphiQL and the console are not built here.',
  );
  process.exit(0);
}

await vite.build({
  root,
  // The server serves the assets under /graphiql/ (src/http/routes/graphiql.ts).
  base: '/graphiql/',
  logLevel: 'warn',
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    // Monaco is one large chunk on purpose: the page is served from the server itself.
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      onwarn(warning, warn) {
        // React's "use client" directives mean nothing in a client-only bundle.
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  worker: { format: 'es' },
});

await vite.build({
  root: join(root, 'console'),
  // The page is served on / and its assets under /console/assets/ (src/http/routes/console.ts).
  base: '/console/',
  logLevel: 'warn',
  build: { outDir: consoleDir, emptyOutDir: true, assetsDir: 'assets' },
});

for (const assets of [join(outDir, 'assets'), join(consoleDir, 'assets')]) {
  for (const name of readdirSync(assets)) {
    if (!/\.(js|css)$/.test(name)) continue;
    const file = join(assets, name);
    writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: constants.Z_BEST_COMPRESSION }));
  }
}
console.log(`build-web: GraphiQL and the console built into ${outDir}`);

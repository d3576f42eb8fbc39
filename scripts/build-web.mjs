/**
 * Builds GraphiQL's page (web/) into dist/web/ with Vite, and a gzip copy of
 * each script and style next to it; `npm ci` runs it (the `prepare` script).
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
const assets = join(outDir, 'assets');

let vite;
try {
  vite = await import('vite');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  console.log('build-web: Vite is not installed (a production install), so GraphiQL is not built here.');
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

for (const name of readdirSync(assets)) {
  if (!/\.(js|css)$/.test(name)) continue;
  const file = join(assets, name);
  writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: constants.Z_BEST_COMPRESSION }));
}
console.log(`build-web: GraphiQL built into ${outDir}`);

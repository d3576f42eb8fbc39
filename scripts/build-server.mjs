/**
 * Compiles the server (src/) into dist/ with `tsc -p tsconfig.build.json`,
 * for `npm start` (`node dist/main.js`); `npm ci` runs it after build-web.mjs
 * (the `prepare` script), and `npm run build` on its own. Compiled files of
 * an earlier build are removed first (a renamed module must not linger);
 * dist/web (GraphiQL) stays.
 *
 * A production install (`npm ci --omit=dev`, the Docker image's runtime
 * stage) has no TypeScript: as `prepare` this says so and succeeds, the
 * compiled server coming from the build stage instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch (err) {
  if (err?.code !== 'MODULE_NOT_FOUND' || process.env.npm_lifecycle_event !== 'prepare') throw err;
  console.log('build-server: TypeScript is not installed (a production install), so the server is not compiled here.');
  process.exit(0);
}

for (const entry of existsSync(dist) ? readdirSync(dist, { withFileTypes: true }) : []) {
  if (entry.name !== 'web') rmSync(join(dist, entry.name), { recursive: true, force: true });
}
const { status, error } = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (error) throw error;
if (status !== 0) process.exit(status ?? 1);
console.log(`build-server: server compiled into ${dist} (npm start runs dist/main.js)`);

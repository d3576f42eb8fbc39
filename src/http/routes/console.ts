import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { BUILT_DIR, BuiltAssets, sendPage } from '../built-assets.js';

/** Where the console's page is served (CONSOLE=false: nowhere). */
export const CONSOLE_PATH = '/';

/** Where its scripts and styles are served (the base of the console's build in scripts/build-web.mjs). */
export const CONSOLE_ASSETS_PREFIX = '/console/assets/';

/**
 * Everything the console loads comes from this server. Previews are
 * `/objects/…` URLs, or blob: URLs of bytes fetched with the caller's API
 * key (an <img> cannot send an Authorization header); a PDF is shown in a
 * frame of such a blob. Styles are the built stylesheet only. Nothing may
 * frame the console.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "frame-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The web console, built from web/console into `dir`/console
 * (scripts/build-web.mjs): the page on `GET /` and its assets under
 * CONSOLE_ASSETS_PREFIX. Without a build, the page says how to make one.
 */
export class Console {
  private readonly page: string | undefined;
  private readonly assets: BuiltAssets;

  constructor(options: { dir?: string } = {}) {
    const dir = join(options.dir ?? BUILT_DIR, 'console');
    this.assets = new BuiltAssets(join(dir, 'assets'), CONSOLE_ASSETS_PREFIX, 'console asset');
    const index = join(dir, 'index.html');
    if (existsSync(index)) this.page = readFileSync(index, 'utf8');
  }

  sendPage(res: ServerResponse): void {
    sendPage(res, this.page, CONTENT_SECURITY_POLICY, 'The console');
  }

  sendAsset(req: IncomingMessage, res: ServerResponse, path: string): void {
    this.assets.send(req, res, path);
  }
}

/**
 * The store's key pair: given by the caller, or generated on first start and
 * kept in the data dir (mode 0600) for later starts.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { StartupError } from './errors.js';
import { writeFileAtomic } from './storage/files.js';

export interface StoreCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Where the generated key pair is kept, inside the data dir. */
export const CREDENTIALS_FILE = '.credentials.json';

const credentialsFileSchema = z.object({
  accessKeyId: z.string().regex(/^[A-Za-z0-9]{16,128}$/),
  secretAccessKey: z.string().regex(/^[\x21-\x7e]{16,128}$/),
});

function parseCredentials(text: string): StoreCredentials | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = credentialsFileSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A fresh pair shaped like AWS's: a 20-character upper-case key id and a 40-character secret. */
function generateCredentials(): StoreCredentials {
  let accessKeyId = 'EMB';
  while (accessKeyId.length < 20) accessKeyId += KEY_ID_ALPHABET[randomInt(KEY_ID_ALPHABET.length)];
  const secretAccessKey = randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'B');
  return { accessKeyId, secretAccessKey };
}

/**
 * The key pair kept in `<dataDir>/.credentials.json` (mode 0600): read when
 * it exists, otherwise generated and written atomically. `shownDir` is the
 * data dir as the operator wrote it, for messages. Call it while holding the
 * data dir's lock.
 */
export async function loadOrCreateCredentials(dataDir: string, shownDir: string): Promise<StoreCredentials> {
  const path = join(dataDir, CREDENTIALS_FILE);
  const shown = join(shownDir, CREDENTIALS_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new StartupError(
        `${shown} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        'EBADCREDENTIALS',
      );
    }
  }
  if (text !== undefined) {
    const parsed = parseCredentials(text);
    if (!parsed) {
      throw new StartupError(
        `${shown} does not hold a valid key pair ({"accessKeyId","secretAccessKey"}); fix it or remove it to generate a new pair`,
        'EBADCREDENTIALS',
      );
    }
    await chmod(path, 0o600);
    return parsed;
  }
  const credentials = generateCredentials();
  const tmp = join(dataDir, 'tmp', `credentials-${randomBytes(8).toString('hex')}`);
  await writeFileAtomic(tmp, path, `${JSON.stringify(credentials, null, 2)}\n`, 0o600);
  return credentials;
}

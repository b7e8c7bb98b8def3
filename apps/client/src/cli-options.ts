// The client's command line: `put <file> [options]`, with the server, the credentials and the
// shared folder also taken from KOODRIVE_* variables. Pure, so the rules are tested without a process.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { GIB, KIB, MIB } from '@koodrive/limits';
import { checkFileName, formatXDate, signAppRequest } from '@koodrive/protocol';
import {
  DEFAULT_PARALLEL,
  DEFAULT_PART_SIZE,
  PartSizeError,
  partSizeFor as corePartSizeFor,
  type UploadVia,
} from '@koodrive/upload-client';
import type { Credentials } from './app-signer.js';

export { DEFAULT_PARALLEL, DEFAULT_PART_SIZE };
export const DEFAULT_URL = 'http://127.0.0.1:3000';
export const MAX_PARALLEL = 64;

export const USAGE = `usage: koodrive put <file> [--parallel N] [--part-size 8MiB] [--url URL] [--name NAME]
                     [--auto-rename 2|3|4] [--share-folder FOLDER_ID] [--upload-via s3|service]
                     [--revision-of FILE_ID --container CONTAINER_ID [--keep-policy 0|1]]
                     (--token TOKEN | --app-id ID --app-secret SECRET --user USER_ID)

  --url           server, default $KOODRIVE_URL or ${DEFAULT_URL}
  --token         session access token, default $KOODRIVE_TOKEN
  --app-id        app authentication (every call signed): the app's id, default $KOODRIVE_APP_ID
  --app-secret    the app's secret, default $KOODRIVE_APP_SECRET (better there: arguments show in ps)
  --user          the user the app uploads for (X-User-Id), default $KOODRIVE_USER
  --share-folder  upload into this shared folder (x-hw-share-folder-id), default $KOODRIVE_SHARE_FOLDER
  --upload-via    where the parts go: s3 (straight to storage) or service (hashed on the way, so
                  complete reads nothing back); default $KOODRIVE_UPLOAD_VIA or the service's choice
  --parallel      parts uploaded at once (1-${MAX_PARALLEL}), default ${DEFAULT_PARALLEL}
  --part-size     bytes per part, e.g. 8MiB, 5M, 1GiB (min 5 MiB, rounded up to 64 bytes), default 8MiB
  --name          the file's name in KooDrive, default the file's base name
  --auto-rename   on a name clash: 2 add a timestamp (default), 3 fail, 4 reuse an identical file
  --revision-of   upload the file as a new version of this completed file (it keeps its id and name)
  --container     the container of the --revision-of file, default $KOODRIVE_CONTAINER
  --keep-policy   the new version's history: 0 KooDrive may clear it by its rules (default), 1 kept forever

Give either a token or the three app options, not both.
Interrupted (Ctrl-C) uploads resume when the same command runs again (state in <file>.koodrive-upload.json).
Exit codes: 0 done, 1 failed, 2 usage, 130 interrupted.`;

// Printable ASCII without spaces: what a header value made of an id can hold.
const HEADER_TOKEN = /^[\x21-\x7E]{1,256}$/;

export class UsageError extends Error {}

export interface PutOptions {
  readonly file: string;
  readonly url: string;
  readonly credentials: Credentials;
  // x-hw-share-folder-id; null: the user's own space
  readonly shareFolder: string | null;
  // where the part URLs point; undefined: the service's choice (its PART_UPLOAD_VIA)
  readonly uploadVia: UploadVia | undefined;
  readonly parallel: number;
  // as asked for (normalised against the file's length later, see partSizeFor)
  readonly partSize: number;
  // --name, or the file's base name: checked against KooDrive's rules
  readonly name: string;
  readonly autoRename: 2 | 3 | 4;
  // a new version of this file (--revision-of); null: a new file
  readonly revision: Revision | null;
}

export interface Revision {
  readonly fileId: string;
  readonly containerId: string;
  readonly keepPolicy: 0 | 1;
}

export type Command = { readonly kind: 'help' } | { readonly kind: 'put'; readonly options: PutOptions };

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: KIB,
  kib: KIB,
  kb: 1000,
  m: MIB,
  mib: MIB,
  mb: 1000 ** 2,
  g: GIB,
  gib: GIB,
  gb: 1000 ** 3,
  t: 1024 * GIB,
  tib: 1024 * GIB,
  tb: 1000 ** 4,
};

// `8MiB`, `5M` (binary, as dd reads it), `5MB` (decimal), `1.5GiB`, `5242880`.
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match === null ? undefined : UNITS[match[2]!.toLowerCase()];
  if (match === null || unit === undefined) {
    throw new UsageError(`not a size: ${JSON.stringify(text)} (try 8MiB, 5M or 1GiB)`);
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) {
    throw new UsageError(`size out of range: ${text}`);
  }
  return bytes;
}

// The part size for a file (the core's rule: the asked size rounded up to whole 64-byte blocks,
// raised when the file would otherwise need more than 10,000 parts), a bad one as a usage error.
export function partSizeFor(asked: number, length: number): number {
  try {
    return corePartSizeFor(asked, length);
  } catch (error) {
    if (error instanceof PartSizeError) {
      throw new UsageError(`--part-size must be between 5 MiB and 5 GiB, got ${asked} bytes`);
    }
    throw error;
  }
}

type Values = Readonly<Record<string, string | boolean | undefined>>;
type Env = Readonly<Record<string, string | undefined>>;

export function parseCommand(argv: readonly string[], env: Env): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        url: { type: 'string' },
        token: { type: 'string' },
        'app-id': { type: 'string' },
        'app-secret': { type: 'string' },
        user: { type: 'string' },
        'share-folder': { type: 'string' },
        'upload-via': { type: 'string' },
        parallel: { type: 'string' },
        'part-size': { type: 'string' },
        name: { type: 'string' },
        'auto-rename': { type: 'string' },
        'revision-of': { type: 'string' },
        container: { type: 'string' },
        'keep-policy': { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length === 0 || positionals[0] === 'help') {
    return { kind: 'help' };
  }
  const [command, file, ...extra] = positionals;
  if (command !== 'put') {
    throw new UsageError(`unknown command: ${command}`);
  }
  if (file === undefined || file === '') {
    throw new UsageError('put needs a file');
  }
  if (extra.length > 0) {
    throw new UsageError(`one file at a time (also given: ${extra.join(' ')})`);
  }
  const newVersion = revision(values, env);
  return {
    kind: 'put',
    options: {
      file,
      ...connection(values, env),
      ...transfer(values),
      // a new version has the file's name, whatever this file is called here
      name: newVersion === null ? fileName(values, file) : basename(file),
      revision: newVersion,
    },
  };
}

// --revision-of with its file's container (KooDrive's createRevision names both) and keep policy;
// a new version takes no name and no rename rule of its own.
function revision(values: Values, env: Env): Revision | null {
  const fileId = nonEmpty(typeof values['revision-of'] === 'string' ? values['revision-of'] : undefined);
  if (fileId === undefined) {
    for (const only of ['container', 'keep-policy']) {
      if (values[only] !== undefined) {
        throw new UsageError(`--${only} goes with --revision-of`);
      }
    }
    return null;
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(fileId)) {
    throw new UsageError('--revision-of must be a fileId (1-64 of A-Z, a-z, 0-9, _ or -)');
  }
  for (const not of ['name', 'auto-rename']) {
    if (values[not] !== undefined) {
      throw new UsageError(`--${not} does not go with --revision-of: a new version keeps the file's name`);
    }
  }
  const containerId = option(values, env, 'container', 'KOODRIVE_CONTAINER');
  if (containerId === undefined || !HEADER_TOKEN.test(containerId)) {
    throw new UsageError("--revision-of needs the file's container: --container (KOODRIVE_CONTAINER)");
  }
  const keepPolicy = Number(values['keep-policy'] ?? 0);
  if (keepPolicy !== 0 && keepPolicy !== 1) {
    throw new UsageError('--keep-policy must be 0 or 1');
  }
  return { fileId, containerId, keepPolicy };
}

// Where the calls go and as whom.
function connection(values: Values, env: Env): Pick<PutOptions, 'url' | 'credentials' | 'shareFolder' | 'uploadVia'> {
  const url = (option(values, env, 'url', 'KOODRIVE_URL') ?? DEFAULT_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
    throw new UsageError(`not an http(s) URL: ${url}`);
  }
  const shareFolder = option(values, env, 'share-folder', 'KOODRIVE_SHARE_FOLDER') ?? null;
  if (shareFolder !== null && !HEADER_TOKEN.test(shareFolder)) {
    throw new UsageError('--share-folder must be a folder id (letters, digits and punctuation, no spaces)');
  }
  const uploadVia = option(values, env, 'upload-via', 'KOODRIVE_UPLOAD_VIA');
  if (uploadVia !== undefined && uploadVia !== 's3' && uploadVia !== 'service') {
    throw new UsageError('--upload-via must be s3 or service');
  }
  return { url, credentials: credentials(values, env), shareFolder, uploadVia };
}

// Exactly one of a token and the three app options, each from its option or else its variable.
function credentials(values: Values, env: Env): Credentials {
  const token = option(values, env, 'token', 'KOODRIVE_TOKEN');
  const appId = option(values, env, 'app-id', 'KOODRIVE_APP_ID');
  const secret = option(values, env, 'app-secret', 'KOODRIVE_APP_SECRET');
  const userId = option(values, env, 'user', 'KOODRIVE_USER');
  const missing = [
    ...(appId === undefined ? ['--app-id (KOODRIVE_APP_ID)'] : []),
    ...(secret === undefined ? ['--app-secret (KOODRIVE_APP_SECRET)'] : []),
    ...(userId === undefined ? ['--user (KOODRIVE_USER)'] : []),
  ];
  const appGiven = missing.length < 3;
  if (token !== undefined && appGiven) {
    throw new UsageError(
      'both a token and app credentials given: use --token (KOODRIVE_TOKEN), or --app-id, --app-secret and --user ' +
        '(KOODRIVE_APP_ID, KOODRIVE_APP_SECRET, KOODRIVE_USER), not both',
    );
  }
  if (token !== undefined) {
    return { kind: 'token', token };
  }
  if (appId === undefined || secret === undefined || userId === undefined) {
    throw new UsageError(
      appGiven
        ? `app authentication needs --app-id, --app-secret and --user; missing: ${missing.join(', ')}`
        : 'no access token: pass --token or set KOODRIVE_TOKEN, or pass --app-id, --app-secret and --user',
    );
  }
  if (!HEADER_TOKEN.test(userId)) {
    throw new UsageError('--user must be a user id (letters, digits and punctuation, no spaces)');
  }
  checkAppId(appId);
  return { kind: 'app', appId, secret, userId };
}

// The protocol lib's own rule for an AppId, found by signing a throwaway request with it.
function checkAppId(appId: string): void {
  try {
    signAppRequest({
      appId,
      secret: 'probe',
      method: 'POST',
      path: '/',
      headers: { host: 'localhost', 'x-date': formatXDate(new Date()), 'x-user-id': 'probe' },
    });
  } catch (error) {
    throw new UsageError(`--app-id: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function transfer(values: Values): Pick<PutOptions, 'parallel' | 'partSize' | 'autoRename'> {
  const parallel = values.parallel === undefined ? DEFAULT_PARALLEL : Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_PARALLEL) {
    throw new UsageError(`--parallel must be a whole number from 1 to ${MAX_PARALLEL}`);
  }
  const partSize = typeof values['part-size'] === 'string' ? parseSize(values['part-size']) : DEFAULT_PART_SIZE;
  partSizeFor(partSize, 0);
  const autoRename = Number(values['auto-rename'] ?? 2);
  if (autoRename !== 2 && autoRename !== 3 && autoRename !== 4) {
    throw new UsageError('--auto-rename must be 2, 3 or 4');
  }
  return { parallel, partSize, autoRename };
}

// KooDrive would refuse the name at create (13000102): said here, before the file is even hashed.
function fileName(values: Values, file: string): string {
  const asked = typeof values.name === 'string' ? nonEmpty(values.name) : undefined;
  const name = asked ?? basename(file);
  const check = checkFileName(name);
  if (check.ok) {
    return check.name;
  }
  throw new UsageError(
    asked === undefined
      ? `the file's name ${JSON.stringify(name)} is not a valid KooDrive name (it ${check.reason}); choose one with --name`
      : `--name ${JSON.stringify(name)}: a KooDrive name ${check.reason}`,
  );
}

function option(values: Values, env: Env, name: string, variable: string): string | undefined {
  const value = values[name];
  return nonEmpty(typeof value === 'string' ? value : undefined) ?? nonEmpty(env[variable]);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

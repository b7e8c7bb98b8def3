// The client's command line: `put <file> [options]`, with the server and token also taken from
// KOODRIVE_URL / KOODRIVE_TOKEN. Pure, so the rules are tested without a process.
import { parseArgs } from 'node:util';
import { GIB, MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE, SHA256_BLOCK } from '@koodrive/limits';

const KIB = 1024;

export const DEFAULT_URL = 'http://127.0.0.1:3000';
export const DEFAULT_PART_SIZE = 8 * MIB;
export const DEFAULT_PARALLEL = 4;
export const MAX_PARALLEL = 64;

export const USAGE = `usage: koodrive put <file> [--parallel N] [--part-size 8MiB] [--url URL] [--token TOKEN]
                     [--name NAME] [--auto-rename 2|3|4]

  --url          server, default $KOODRIVE_URL or ${DEFAULT_URL}
  --token        access token, default $KOODRIVE_TOKEN
  --parallel     parts uploaded at once (1-${MAX_PARALLEL}), default ${DEFAULT_PARALLEL}
  --part-size    bytes per part, e.g. 8MiB, 5M, 1GiB (min 5 MiB, rounded up to 64 bytes), default 8MiB
  --name         the file's name in KooDrive, default the file's base name
  --auto-rename  on a name clash: 2 add a timestamp (default), 3 fail, 4 reuse an identical file

Interrupted (Ctrl-C) uploads resume when the same command runs again (state in <file>.koodrive-upload.json).
Exit codes: 0 done, 1 failed, 2 usage, 130 interrupted.`;

export class UsageError extends Error {}

export interface PutOptions {
  readonly file: string;
  readonly url: string;
  readonly token: string;
  readonly parallel: number;
  // as asked for (normalised against the file's length later, see partSizeFor)
  readonly partSize: number;
  readonly name: string | undefined;
  readonly autoRename: 2 | 3 | 4;
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

// The part size for a file: the asked size rounded up to whole 64-byte blocks, raised when the
// file would otherwise need more than 10,000 parts.
export function partSizeFor(asked: number, length: number): number {
  if (asked < MIN_PART_SIZE || asked > MAX_PART_SIZE) {
    throw new UsageError(`--part-size must be between 5 MiB and 5 GiB, got ${asked} bytes`);
  }
  const needed = Math.max(asked, Math.ceil(length / MAX_PARTS));
  return Math.ceil(needed / SHA256_BLOCK) * SHA256_BLOCK;
}

export function parseCommand(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        url: { type: 'string' },
        token: { type: 'string' },
        parallel: { type: 'string' },
        'part-size': { type: 'string' },
        name: { type: 'string' },
        'auto-rename': { type: 'string' },
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
  const token = nonEmpty(values.token) ?? nonEmpty(env.KOODRIVE_TOKEN);
  if (token === undefined) {
    throw new UsageError('no access token: pass --token or set KOODRIVE_TOKEN');
  }
  const url = (nonEmpty(values.url) ?? nonEmpty(env.KOODRIVE_URL) ?? DEFAULT_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
    throw new UsageError(`not an http(s) URL: ${url}`);
  }
  const parallel = values.parallel === undefined ? DEFAULT_PARALLEL : Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_PARALLEL) {
    throw new UsageError(`--parallel must be a whole number from 1 to ${MAX_PARALLEL}`);
  }
  const partSize = values['part-size'] === undefined ? DEFAULT_PART_SIZE : parseSize(values['part-size']);
  partSizeFor(partSize, 0);
  const autoRename = Number(values['auto-rename'] ?? 2);
  if (autoRename !== 2 && autoRename !== 3 && autoRename !== 4) {
    throw new UsageError('--auto-rename must be 2, 3 or 4');
  }
  const name = nonEmpty(values.name);
  return { kind: 'put', options: { file, url, token, parallel, partSize, name, autoRename } };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

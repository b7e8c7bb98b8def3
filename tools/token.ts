// npm run token -- --user <id> [--container <id>] [--scopes file.upload,...] [--ttl 1200]
// Writes a session as KooDrive's session service would, and prints the new token.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { SESSION_TTL_SECONDS, UPLOAD_SCOPE, sessionKey } from '../libs/auth/src/session-key.ts';

const { values } = parseArgs({
  options: {
    user: { type: 'string' },
    container: { type: 'string' },
    scopes: { type: 'string', default: UPLOAD_SCOPE },
    ttl: { type: 'string', default: String(SESSION_TTL_SECONDS) },
  },
});

if (values.user === undefined || values.user === '') {
  console.error('usage: npm run token -- --user <id> [--container <id>] [--scopes file.upload] [--ttl 1200]');
  process.exit(2);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl < 1) {
  console.error('--ttl must be a positive number of seconds');
  process.exit(2);
}

const token = randomBytes(32).toString('base64url');
const session = {
  userId: values.user,
  containerId: values.container ?? `container-${values.user}`,
  scopes: values.scopes
    .split(',')
    .map((scope) => scope.trim())
    .filter((scope) => scope !== ''),
};
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
try {
  await redis.set(sessionKey(token), JSON.stringify(session), 'EX', ttl);
  console.log(token);
} finally {
  redis.disconnect();
}

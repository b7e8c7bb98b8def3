// npm run token -- --user <id> [--container <id>] [--scopes file.upload,...] [--ttl 1200]
//   Writes a session as KooDrive's session service would, and prints the new token.
// npm run token -- --app <appId> [--scopes file.upload,...] [--user <id> [--container <id>]]
//   Makes an app credential pair (API.md, "App authentication") and prints it with the line to add
//   to APP_CREDENTIALS; with --user, also writes that user's record (koodrive:user:<id>), as
//   KooDrive's user service would, so the app can act for them.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { SESSION_TTL_SECONDS, UPLOAD_SCOPE, sessionKey, userKey } from '@koodrive/protocol';

const USAGE =
  'usage: npm run token -- --user <id> [--container <id>] [--scopes file.upload] [--ttl 1200]\n' +
  '       npm run token -- --app <appId> [--scopes file.upload] [--user <id> [--container <id>]]';

const { values } = parseArgs({
  options: {
    user: { type: 'string' },
    app: { type: 'string' },
    container: { type: 'string' },
    scopes: { type: 'string', default: UPLOAD_SCOPE },
    ttl: { type: 'string', default: String(SESSION_TTL_SECONDS) },
  },
});

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const scopes = values.scopes
  .split(',')
  .map((scope) => scope.trim())
  .filter((scope) => scope !== '');
const userId = values.user === '' ? undefined : values.user;
const containerId = values.container ?? `container-${userId}`;

async function withRedis(work: (redis: Redis) => Promise<void>): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  try {
    await work(redis);
  } finally {
    redis.disconnect();
  }
}

if (values.app !== undefined) {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(values.app)) {
    fail('--app must be 1-64 characters of A-Z, a-z, 0-9, _, . or -');
  }
  const secret = randomBytes(32).toString('base64url');
  console.log(`AppId: ${values.app}`);
  console.log(`AppSecret: ${secret}`);
  console.log('Add this entry to the JSON object in APP_CREDENTIALS (or the file APP_CREDENTIALS_FILE names):');
  console.log(`${JSON.stringify(values.app)}: ${JSON.stringify({ secret, scopes })}`);
  if (userId !== undefined) {
    await withRedis((redis) => redis.set(userKey(userId), JSON.stringify({ containerId })).then(() => undefined));
    console.log(`Wrote the user record ${userKey(userId)} (container ${containerId}).`);
  }
} else {
  if (userId === undefined) {
    fail('--user or --app is required');
  }
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1) {
    fail('--ttl must be a positive number of seconds');
  }
  const token = randomBytes(32).toString('base64url');
  await withRedis((redis) =>
    redis
      .set(sessionKey(token), JSON.stringify({ userId, containerId, scopes }), 'EX', ttl)
      .then(() => console.log(token)),
  );
}

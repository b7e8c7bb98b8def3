// Admission on Redis in one round trip per request: a script per scheme reads the session (restarting
// its TTL) or records the app signature and reads the user, and counts the request in the user's
// fixed window, and reads the quota record of the caller's own container (koodrive:quota:<container>,
// which create checks). The keys are KooDrive's (koodrive:session:<sha256(token)>,
// koodrive:user:<id>, koodrive:quota:<container>) and ours (koodrive:ratelimit:<user>,
// koodrive:app-signature:<app>:<signature>). The scripts name the rate-limit and quota keys from
// the records they read, so they run on one Redis node (a primary behind Sentinel), not on Redis
// Cluster.
import type { Redis } from 'ioredis';
import type { AppConfig } from '@koodrive/config';
import { parseSessionRecord, parseUserRecord, SESSION_TTL_SECONDS, sessionKey, userKey } from '@koodrive/protocol';
import { parseQuota, QUOTA_KEY_PREFIX, WRONG_TYPE_QUOTA } from '@koodrive/quota';
import { redisCommand } from '@koodrive/redis';
import type { Admission, AdmittedApp, AdmittedSession, OwnQuota } from './admission.js';
import type { RateDecision } from './rate-limiter.js';

export const RATE_LIMIT_KEY_PREFIX = 'koodrive:ratelimit:';
export const REPLAY_KEY_PREFIX = 'koodrive:app-signature:';

// Counts a request of `units` in the fixed window at `rate`; answers {count, ttl}, or {0, 0} with the limit off.
const COUNT = `
local function count(rate, limit, window, units)
  if tonumber(limit) == 0 then return {0, 0} end
  local n = redis.call('INCRBY', rate, units)
  redis.call('EXPIRE', rate, window, 'NX')
  return {n, redis.call('TTL', rate)}
end
-- the quota record of the record's container: its text, false (no record) or 0 (a key of another type)
local function quota(prefix, record)
  if type(record.containerId) ~= 'string' then return false end
  local raw = redis.pcall('GET', prefix .. record.containerId)
  if type(raw) == 'table' then return 0 end
  return raw
end
`;

// KEYS[1] session. ARGV: session TTL, rate-limit key prefix, requests per window (0: off), window
// seconds, quota key prefix, the request's units. Answers nil (no session, or a key of another type) or {record, count,
// ttl, quota}; a record without a string userId is answered uncounted (the service refuses it).
const ADMIT_SESSION = `${COUNT}
local raw = redis.pcall('GETEX', KEYS[1], 'EX', ARGV[1])
if type(raw) ~= 'string' then return nil end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record) ~= 'table' or type(record.userId) ~= 'string' then return {raw, 0, 0} end
local counted = count(ARGV[2] .. record.userId, ARGV[3], ARGV[4], ARGV[6])
return {raw, counted[1], counted[2], quota(ARGV[5], record)}
`;

// KEYS[1] signature, KEYS[2] user, KEYS[3] rate limit. ARGV: replay window seconds, requests per
// window (0: off), window seconds, quota key prefix, the request's units. Answers {'replayed'}, {'no-user'} or {'ok',
// record, count, ttl, quota}.
const ADMIT_APP = `${COUNT}
if not redis.call('SET', KEYS[1], '1', 'EX', ARGV[1], 'NX') then return {'replayed'} end
local user = redis.pcall('GET', KEYS[2])
if type(user) ~= 'string' then return {'no-user'} end
local counted = count(KEYS[3], ARGV[2], ARGV[3], ARGV[5])
local ok, record = pcall(cjson.decode, user)
return {'ok', user, counted[1], counted[2], ok and type(record) == 'table' and quota(ARGV[4], record)}
`;

interface AdmissionCommands {
  koodriveAdmitSession(
    key: string,
    ttl: number,
    ratePrefix: string,
    requests: number,
    window: number,
    quotaPrefix: string,
    units: number,
  ): Promise<[string, number, number, RawQuota] | null>;
  koodriveAdmitApp(
    signatureKey: string,
    userKey: string,
    rateKey: string,
    replayWindow: number,
    requests: number,
    window: number,
    quotaPrefix: string,
    units: number,
  ): Promise<[string, string?, number?, number?, RawQuota?]>;
}

export class RedisAdmission implements Admission {
  private readonly commands: AdmissionCommands;

  constructor(
    redis: Redis,
    private readonly limit: AppConfig['rateLimit'],
  ) {
    // sent as EVALSHA, and loaded by ioredis on the first NOSCRIPT
    redis.defineCommand('koodriveAdmitSession', { numberOfKeys: 1, lua: ADMIT_SESSION });
    redis.defineCommand('koodriveAdmitApp', { numberOfKeys: 3, lua: ADMIT_APP });
    this.commands = redis as unknown as AdmissionCommands;
  }

  async session(token: string, units: number): Promise<AdmittedSession | null> {
    const { requests, windowSeconds } = this.limit;
    const answer = await redisCommand('ADMIT_SESSION', () =>
      this.commands.koodriveAdmitSession(
        sessionKey(token),
        SESSION_TTL_SECONDS,
        RATE_LIMIT_KEY_PREFIX,
        requests,
        windowSeconds,
        QUOTA_KEY_PREFIX,
        units,
      ),
    );
    const session = answer === null ? null : parseSessionRecord(answer[0]);
    return session === null
      ? null
      : { session, rate: this.decision(answer![1], answer![2]), ownQuota: ownQuota(answer![3]) };
  }

  async app(signature: string, replayWindowSeconds: number, userId: string, units: number): Promise<AdmittedApp> {
    const { requests, windowSeconds } = this.limit;
    const [kind, raw, count, ttl, quota] = await redisCommand('ADMIT_APP', () =>
      this.commands.koodriveAdmitApp(
        REPLAY_KEY_PREFIX + signature,
        userKey(userId),
        RATE_LIMIT_KEY_PREFIX + userId,
        replayWindowSeconds,
        requests,
        windowSeconds,
        QUOTA_KEY_PREFIX,
        units,
      ),
    );
    if (kind === 'replayed') {
      return { kind: 'replayed' };
    }
    const user = raw === undefined ? null : parseUserRecord(raw);
    return user === null
      ? { kind: 'no-user' }
      : { kind: 'admitted', user, rate: this.decision(count!, ttl!), ownQuota: ownQuota(quota) };
  }

  private decision(count: number, ttl: number): RateDecision {
    return this.limit.requests === 0
      ? { allowed: true, retryAfterSeconds: 0 }
      : { allowed: count <= this.limit.requests, retryAfterSeconds: Math.max(1, ttl) };
  }
}

// The quota record as a script read it: its text, nil (none) or 0 (a key of another type; false
// and nil arrive as null, a Lua number as one).
type RawQuota = string | number | null;

function ownQuota(raw: RawQuota | undefined): OwnQuota {
  return typeof raw === 'number' ? WRONG_TYPE_QUOTA : parseQuota(raw ?? null);
}

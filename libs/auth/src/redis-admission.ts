// Admission on Redis in one round trip per request: a script per scheme reads the session (restarting
// its TTL) or records the app signature and reads the user, and counts the request in the user's
// fixed window. The keys are KooDrive's (koodrive:session:<sha256(token)>, koodrive:user:<id>) and
// ours (koodrive:ratelimit:<user>, koodrive:app-signature:<app>:<signature>). The session script
// names the rate-limit key from the record it reads, so it runs on one Redis node (a primary behind
// Sentinel), not on Redis Cluster.
import type { Redis } from 'ioredis';
import type { AppConfig } from '@koodrive/config';
import { parseSessionRecord, parseUserRecord, SESSION_TTL_SECONDS, sessionKey, userKey } from '@koodrive/protocol';
import { redisCommand } from '@koodrive/redis';
import type { Admission, AdmittedApp, AdmittedSession } from './admission.js';
import type { RateDecision } from './rate-limiter.js';

export const RATE_LIMIT_KEY_PREFIX = 'koodrive:ratelimit:';
export const REPLAY_KEY_PREFIX = 'koodrive:app-signature:';

// Counts one request in the fixed window at `rate`; answers {count, ttl}, or {0, 0} with the limit off.
const COUNT = `
local function count(rate, limit, window)
  if tonumber(limit) == 0 then return {0, 0} end
  local n = redis.call('INCR', rate)
  redis.call('EXPIRE', rate, window, 'NX')
  return {n, redis.call('TTL', rate)}
end
`;

// KEYS[1] session. ARGV: session TTL, rate-limit key prefix, requests per window (0: off), window
// seconds. Answers nil (no session, or a key of another type) or {record, count, ttl}; a record
// without a string userId is answered uncounted (the service refuses it).
const ADMIT_SESSION = `${COUNT}
local raw = redis.pcall('GETEX', KEYS[1], 'EX', ARGV[1])
if type(raw) ~= 'string' then return nil end
local ok, record = pcall(cjson.decode, raw)
if not ok or type(record) ~= 'table' or type(record.userId) ~= 'string' then return {raw, 0, 0} end
local counted = count(ARGV[2] .. record.userId, ARGV[3], ARGV[4])
return {raw, counted[1], counted[2]}
`;

// KEYS[1] signature, KEYS[2] user, KEYS[3] rate limit. ARGV: replay window seconds, requests per
// window (0: off), window seconds. Answers {'replayed'}, {'no-user'} or {'ok', record, count, ttl}.
const ADMIT_APP = `${COUNT}
if not redis.call('SET', KEYS[1], '1', 'EX', ARGV[1], 'NX') then return {'replayed'} end
local user = redis.pcall('GET', KEYS[2])
if type(user) ~= 'string' then return {'no-user'} end
local counted = count(KEYS[3], ARGV[2], ARGV[3])
return {'ok', user, counted[1], counted[2]}
`;

interface AdmissionCommands {
  koodriveAdmitSession(
    key: string,
    ttl: number,
    ratePrefix: string,
    requests: number,
    window: number,
  ): Promise<[string, number, number] | null>;
  koodriveAdmitApp(
    signatureKey: string,
    userKey: string,
    rateKey: string,
    replayWindow: number,
    requests: number,
    window: number,
  ): Promise<[string, string?, number?, number?]>;
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

  async session(token: string): Promise<AdmittedSession | null> {
    const { requests, windowSeconds } = this.limit;
    const answer = await redisCommand('ADMIT_SESSION', () =>
      this.commands.koodriveAdmitSession(
        sessionKey(token),
        SESSION_TTL_SECONDS,
        RATE_LIMIT_KEY_PREFIX,
        requests,
        windowSeconds,
      ),
    );
    const session = answer === null ? null : parseSessionRecord(answer[0]);
    return session === null ? null : { session, rate: this.decision(answer![1], answer![2]) };
  }

  async app(signature: string, replayWindowSeconds: number, userId: string): Promise<AdmittedApp> {
    const { requests, windowSeconds } = this.limit;
    const [kind, raw, count, ttl] = await redisCommand('ADMIT_APP', () =>
      this.commands.koodriveAdmitApp(
        REPLAY_KEY_PREFIX + signature,
        userKey(userId),
        RATE_LIMIT_KEY_PREFIX + userId,
        replayWindowSeconds,
        requests,
        windowSeconds,
      ),
    );
    if (kind === 'replayed') {
      return { kind: 'replayed' };
    }
    const user = raw === undefined ? null : parseUserRecord(raw);
    return user === null ? { kind: 'no-user' } : { kind: 'admitted', user, rate: this.decision(count!, ttl!) };
  }

  private decision(count: number, ttl: number): RateDecision {
    return this.limit.requests === 0
      ? { allowed: true, retryAfterSeconds: 0 }
      : { allowed: count <= this.limit.requests, retryAfterSeconds: Math.max(1, ttl) };
  }
}

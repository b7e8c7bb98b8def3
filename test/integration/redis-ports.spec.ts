// The same expectations against the Redis implementations of the ports (the real Redis at
// REDIS_URL) and the in-process ones that stand in when REDIS_URL is unset, each on a clock the
// test moves: the memory ones on a fake clock, Redis by taking the time off its keys' TTLs.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  type Admission,
  MemoryAdmission,
  MemoryRateLimiter,
  MemoryReplayGuard,
  MemorySessionStore,
  MemoryProofFailures,
  MemoryUserDirectory,
  proofFailureKey,
  type ProofFailures,
  RATE_LIMIT_KEY_PREFIX,
  RedisAdmission,
  RedisProofFailures,
  RedisSessionStore,
  REPLAY_KEY_PREFIX,
  type SessionStore,
} from '@koodrive/auth';
import { sessionKey, UPLOAD_SCOPE, type UserRecord, userKey } from '@koodrive/protocol';
import type { OutboxMessage } from '@koodrive/database';
import { DependencyUnavailableError } from '@koodrive/errors';
import { type EventPublisher, MemoryEventPublisher, RedisEventPublisher } from '@koodrive/events';
import { connectRedis } from '@koodrive/redis';
import { deadPort } from '../support/dead-port.ts';

interface RateLimit {
  readonly requests: number;
  readonly windowSeconds: number;
}

interface Backend {
  readonly name: string;
  readonly sessions: SessionStore;
  readonly events: EventPublisher;
  readonly proofFailures: ProofFailures;
  // admission under this rate limit, on the backend's sessions and users
  admission(limit?: RateLimit): Admission;
  putUser(userId: string, record: UserRecord): Promise<void>;
  // the ids of the events published so far, oldest first
  publishedIds(): Promise<string[]>;
  // lets `ms` pass: real time for Redis, the fake clock for the memory implementations
  elapse(ms: number): Promise<void>;
}

const redis = new Redis(process.env.REDIS_URL!);
const NO_LIMIT: RateLimit = { requests: 0, windowSeconds: 30 };
const stream = `koodrive:test:ports:${randomUUID()}`;

// Redis on an injected clock: the keys a test made are tracked, and letting time pass takes that
// much off each one's TTL (gone once it reaches 0), so expiry is tested without waiting for it.
function redisBackend(): Backend {
  const keys = new Set<string>();
  const sessions = new RedisSessionStore(redis);
  return {
    name: 'Redis',
    sessions: {
      put: (token, session, ttl) => (keys.add(sessionKey(token)), sessions.put(token, session, ttl)),
      touch: (token) => (keys.add(sessionKey(token)), sessions.touch(token)),
    },
    events: new RedisEventPublisher(redis, stream),
    proofFailures: (() => {
      const failures = new RedisProofFailures(redis);
      return {
        exhausted: (userId, sha256) => failures.exhausted(userId, sha256),
        record: (userId, sha256) => (keys.add(proofFailureKey(userId, sha256)), failures.record(userId, sha256)),
      };
    })(),
    admission: (limit = NO_LIMIT) => {
      const admission = new RedisAdmission(redis, limit);
      return {
        session: async (token, units) => {
          const admitted = await admission.session(token, units);
          if (admitted !== null) {
            keys.add(`${RATE_LIMIT_KEY_PREFIX}${admitted.session.userId}`);
          }
          return admitted;
        },
        app: (signature, window, userId, units) => {
          keys.add(`${REPLAY_KEY_PREFIX}${signature}`).add(`${RATE_LIMIT_KEY_PREFIX}${userId}`);
          return admission.app(signature, window, userId, units);
        },
      };
    },
    putUser: async (userId, record) => {
      keys.add(userKey(userId));
      await redis.set(userKey(userId), JSON.stringify(record));
    },
    publishedIds: async () => (await redis.xrange(stream, '-', '+')).map(([, fields]) => fieldsOf(fields).id!),
    elapse: async (ms) => {
      for (const key of keys) {
        const left = await redis.pttl(key);
        if (left > ms) {
          await redis.pexpire(key, left - ms);
        } else if (left >= 0) {
          await redis.del(key);
        }
      }
    },
  };
}

function memoryBackend(): Backend {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = () => now;
  const events = new MemoryEventPublisher();
  const sessions = new MemorySessionStore(clock);
  const users = new MemoryUserDirectory();
  const replays = new MemoryReplayGuard(clock);
  return {
    name: 'memory',
    sessions,
    events,
    proofFailures: new MemoryProofFailures(clock),
    admission: (limit = NO_LIMIT) => new MemoryAdmission(sessions, users, replays, new MemoryRateLimiter(limit, clock)),
    putUser: (userId, record) => Promise.resolve(users.put(userId, record)),
    publishedIds: () => Promise.resolve(events.recent().map((event) => event.id)),
    elapse: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  };
}

function fieldsOf(list: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) {
    fields[list[i]!] = list[i + 1]!;
  }
  return fields;
}

function newSession() {
  return { userId: `u-${randomUUID()}`, containerId: `c-${randomUUID()}`, scopes: [UPLOAD_SCOPE] };
}

function newEvent(): OutboxMessage {
  return {
    id: String(Date.now() * 1000 + Math.floor(Math.random() * 1000)),
    type: 'file.completed',
    fileId: `Fi${randomUUID().replaceAll('-', '')}`,
    payload: { sha256: 'ab'.repeat(32), length: 3 },
    traceId: 'f'.repeat(32),
    xTraceid: 'x-trace-1',
    createdAt: new Date('2026-01-01T00:00:00Z'),
  };
}

after(async () => {
  await redis.del(stream);
  await redis.quit();
});

for (const backend of [redisBackend(), memoryBackend()]) {
  describe(`ports on ${backend.name}`, () => {
    const sessionOf = async (token: string) => (await backend.admission().session(token, 1))?.session ?? null;

    it('admits a stored session, and no unknown token', async () => {
      const session = newSession();
      const token = randomUUID();
      await backend.sessions.put(token, session, 60);
      assert.deepEqual(await sessionOf(token), session);
      assert.equal(await sessionOf(randomUUID()), null);
    });

    it('expires a session left idle past its TTL', async () => {
      const token = randomUUID();
      await backend.sessions.put(token, newSession(), 1);
      await backend.elapse(1_200);
      assert.equal(await sessionOf(token), null);
    });

    it('restarts the 20 idle minutes on each admission (sliding expiry)', async () => {
      const session = newSession();
      const token = randomUUID();
      await backend.sessions.put(token, session, 1);
      await backend.elapse(600);
      assert.deepEqual(await sessionOf(token), session);
      await backend.elapse(900); // past the first TTL: the admission gave it 1200 s again
      assert.deepEqual(await sessionOf(token), session);
    });

    it('allows `requests` per window per user, then answers the seconds left, then a new window', async () => {
      const admission = backend.admission({ requests: 2, windowSeconds: 1 });
      const [token, other] = [randomUUID(), randomUUID()];
      await backend.sessions.put(token, newSession(), 60);
      await backend.sessions.put(other, newSession(), 60);
      assert.equal((await admission.session(token, 1))?.rate.allowed, true);
      assert.equal((await admission.session(token, 1))?.rate.allowed, true);
      assert.deepEqual((await admission.session(token, 1))?.rate, { allowed: false, retryAfterSeconds: 1 });
      assert.equal((await admission.session(other, 1))?.rate.allowed, true, 'another user is not limited');
      await backend.elapse(1_200);
      assert.equal((await admission.session(token, 1))?.rate.allowed, true, 'a new window');
    });

    it('answers Retry-After as the seconds left in the window, and counts app and session requests alike', async () => {
      const admission = backend.admission({ requests: 1, windowSeconds: 30 });
      const session = newSession();
      const token = randomUUID();
      await backend.sessions.put(token, session, 60);
      await backend.putUser(session.userId, { containerId: session.containerId });
      await admission.session(token, 1);
      const refused = await admission.app(`app-1:${randomUUID()}`, 60, session.userId, 1);
      assert.equal(refused.kind, 'admitted');
      const rate = refused.kind === 'admitted' ? refused.rate : undefined;
      assert.equal(rate?.allowed, false);
      assert.ok(rate.retryAfterSeconds >= 29 && rate.retryAfterSeconds <= 30, `${rate.retryAfterSeconds}`);
    });

    it('weighs a request by its units (a create listing parts: 1 + ceil(parts / 100)), for either scheme', async () => {
      const admission = backend.admission({ requests: 10, windowSeconds: 30 });
      const session = newSession();
      const token = randomUUID();
      await backend.sessions.put(token, session, 60);
      await backend.putUser(session.userId, { containerId: session.containerId });
      assert.equal((await admission.session(token, 7))?.rate.allowed, true, '7 of 10');
      const app = await admission.app(`app-1:${randomUUID()}`, 60, session.userId, 3);
      assert.equal(app.kind === 'admitted' && app.rate.allowed, true, '10 of 10');
      assert.equal((await admission.session(token, 1))?.rate.allowed, false, '11 of 10');
    });

    it('counts wrong proofs per user and digest: the third within 24 hours exhausts them until the window ends', async () => {
      const failures = backend.proofFailures;
      const [user, other] = [`u-${randomUUID()}`, `u-${randomUUID()}`];
      const [digest, another] = ['a1'.repeat(32), 'b2'.repeat(32)];
      for (let wrong = 1; wrong <= 3; wrong++) {
        assert.equal(await failures.exhausted(user, digest), false, `after ${wrong - 1} wrong proofs`);
        await failures.record(user, digest);
      }
      assert.equal(await failures.exhausted(user, digest), true, 'after 3 wrong proofs');
      assert.equal(await failures.exhausted(user, another), false, 'another digest');
      assert.equal(await failures.exhausted(other, digest), false, 'another user');
      await backend.elapse(23 * 3600_000);
      assert.equal(await failures.exhausted(user, digest), true, 'still within the 24 hours');
      await backend.elapse(3600_000 + 1000);
      assert.equal(await failures.exhausted(user, digest), false, 'the window has ended');
    });

    it('allows everything when the limit is off', async () => {
      const admission = backend.admission({ requests: 0, windowSeconds: 30 });
      const token = randomUUID();
      await backend.sessions.put(token, newSession(), 60);
      for (let i = 0; i < 5; i++) {
        assert.deepEqual((await admission.session(token, 1))?.rate, { allowed: true, retryAfterSeconds: 0 });
      }
    });

    it('publishes a batch of events in order', async () => {
      const batch = [newEvent(), newEvent(), newEvent()];
      await backend.events.publish(batch);
      assert.deepEqual(
        (await backend.publishedIds()).slice(-3),
        batch.map((event) => event.id),
      );
    });

    it('remembers a signature for its window: the first use passes, a repeat does not, until the window ends', async () => {
      const admission = backend.admission();
      const userId = `u-${randomUUID()}`;
      await backend.putUser(userId, { containerId: `c-${randomUUID()}` });
      const key = `app-1:${randomUUID()}`;
      assert.equal((await admission.app(key, 1, userId, 1)).kind, 'admitted');
      assert.deepEqual(await admission.app(key, 1, userId, 1), { kind: 'replayed' });
      assert.equal((await admission.app(`${key}x`, 1, userId, 1)).kind, 'admitted');
      await backend.elapse(1100);
      assert.equal((await admission.app(key, 1, userId, 1)).kind, 'admitted');
    });

    it("answers the user's record to an app, and no-user for a user without one (the signature still used)", async () => {
      const admission = backend.admission();
      const userId = `u-${randomUUID()}`;
      const record = { containerId: `c-${randomUUID()}` };
      await backend.putUser(userId, record);
      const admitted = await admission.app(`app-1:${randomUUID()}`, 60, userId, 1);
      assert.deepEqual(admitted.kind === 'admitted' && admitted.user, { containerId: record.containerId });
      const key = `app-1:${randomUUID()}`;
      assert.deepEqual(await admission.app(key, 60, `u-${randomUUID()}`, 1), { kind: 'no-user' });
      assert.deepEqual(await admission.app(key, 60, userId, 1), { kind: 'replayed' });
    });
  });
}

describe('the Redis implementations only', () => {
  it('admit a request in one round trip: one command written per admission, of either scheme', async () => {
    const client = new Redis(process.env.REDIS_URL!);
    try {
      const admission = new RedisAdmission(client, { requests: 100, windowSeconds: 30 });
      const session = newSession();
      const token = randomUUID();
      await new RedisSessionStore(client).put(token, session, 60);
      await client.set(userKey(session.userId), JSON.stringify({ containerId: session.containerId }));
      // the first calls load the scripts (EVALSHA answered NOSCRIPT, then EVAL)
      await admission.session(token, 1);
      await admission.app(`app-1:${randomUUID()}`, 60, session.userId, 1);
      await client.ping();
      const socket = client.stream as { write: (...args: unknown[]) => boolean };
      const write = socket.write.bind(socket);
      let writes = 0;
      socket.write = (...args: unknown[]) => ((writes += 1), write(...args));
      assert.equal((await admission.session(token, 1))?.session.userId, session.userId);
      assert.equal((await admission.app(`app-1:${randomUUID()}`, 60, session.userId, 1)).kind, 'admitted');
      assert.equal(writes, 2);
      await client.del(sessionKey(token), userKey(session.userId), `${RATE_LIMIT_KEY_PREFIX}${session.userId}`);
    } finally {
      client.disconnect();
    }
  });

  it("read the quota record of the caller's own container in the same round trip, for either scheme", async () => {
    const admission = new RedisAdmission(redis, { requests: 100, windowSeconds: 30 });
    const session = newSession();
    const token = randomUUID();
    const quotaKey = `koodrive:quota:${session.containerId}`;
    await new RedisSessionStore(redis).put(token, session, 60);
    await redis.set(userKey(session.userId), JSON.stringify({ containerId: session.containerId }));
    try {
      // no record: no limit
      assert.deepEqual((await admission.session(token, 1))?.ownQuota, { state: 'none' });
      await redis.set(quotaKey, JSON.stringify({ used: 10, limit: 100 }));
      assert.deepEqual((await admission.session(token, 1))?.ownQuota, { state: 'set', used: 10, limit: 100 });
      const app = await admission.app(`app-1:${randomUUID()}`, 60, session.userId, 1);
      assert.deepEqual(app.kind === 'admitted' && app.ownQuota, { state: 'set', used: 10, limit: 100 });
      // a record that is no quota, or a key of another type, is malformed: never "no limit"
      await redis.set(quotaKey, '{"used":"ten"}');
      assert.equal((await admission.session(token, 1))?.ownQuota?.state, 'malformed');
      await redis.del(quotaKey);
      await redis.hset(quotaKey, 'used', '1');
      assert.deepEqual((await admission.session(token, 1))?.ownQuota, {
        state: 'malformed',
        reason: 'the key holds another Redis type than a string',
      });
    } finally {
      await redis.del(
        sessionKey(token),
        userKey(session.userId),
        quotaKey,
        `${RATE_LIMIT_KEY_PREFIX}${session.userId}`,
      );
    }
  });

  it('take a session or user key of another type for no record, not for Redis being down', async () => {
    const token = randomUUID();
    const userId = `u-${randomUUID()}`;
    await redis.hset(sessionKey(token), 'userId', 'x');
    await redis.hset(userKey(userId), 'containerId', 'x');
    try {
      const admission = new RedisAdmission(redis, { requests: 5, windowSeconds: 30 });
      assert.equal(await admission.session(token, 1), null);
      assert.deepEqual(await admission.app(`app-1:${randomUUID()}`, 60, userId, 1), { kind: 'no-user' });
    } finally {
      await redis.del(sessionKey(token), userKey(userId));
    }
  });

  it('keep a session under koodrive:session:<sha256(token)>, never the raw token, its TTL reset by a touch', async () => {
    const token = randomUUID();
    const key = `koodrive:session:${createHash('sha256').update(token).digest('hex')}`;
    await new RedisSessionStore(redis).put(token, newSession(), 5);
    assert.ok((await redis.ttl(key)) <= 5);
    await new RedisSessionStore(redis).touch(token);
    assert.ok((await redis.ttl(key)) > 1190);
    assert.equal(await redis.exists(`koodrive:session:${token}`), 0);
  });

  it('refuse a session TTL Redis cannot keep', async () => {
    await assert.rejects(
      new RedisSessionStore(redis).put(randomUUID(), newSession(), Number.POSITIVE_INFINITY),
      RangeError,
    );
  });

  it('write the stream fields consumers read', async () => {
    const event = newEvent();
    await new RedisEventPublisher(redis, stream).publish([event]);
    const entries = await redis.xrange(stream, '-', '+');
    assert.deepEqual(fieldsOf(entries.at(-1)![1]), {
      id: event.id,
      type: event.type,
      fileId: event.fileId,
      payload: JSON.stringify(event.payload),
      traceId: event.traceId,
      xTraceid: event.xTraceid,
      createdAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it('answer DependencyUnavailableError when Redis is unreachable', async () => {
    const dead = connectRedis(`redis://127.0.0.1:${await deadPort()}`);
    try {
      const isRedisDown = (error: unknown) =>
        error instanceof DependencyUnavailableError && error.dependency === 'redis';
      const admission = new RedisAdmission(dead, { requests: 1, windowSeconds: 30 });
      await assert.rejects(new RedisSessionStore(dead).touch('tok'), isRedisDown);
      await assert.rejects(new RedisSessionStore(dead).put('tok', newSession(), 60), isRedisDown);
      await assert.rejects(admission.session('tok', 1), isRedisDown);
      await assert.rejects(admission.app('app-1:k', 60, 'u', 1), isRedisDown);
      await assert.rejects(new RedisEventPublisher(dead, stream).publish([newEvent()]), isRedisDown);
    } finally {
      dead.disconnect();
    }
  });
});

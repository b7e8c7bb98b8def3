// The same expectations against the Redis implementations of the ports (the real Redis at
// REDIS_URL) and the in-process ones that stand in when REDIS_URL is unset, each on a clock the
// test moves: the memory ones on a fake clock, Redis by taking the time off its keys' TTLs.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import {
  MemoryRateLimiter,
  MemoryReplayGuard,
  MemorySessionStore,
  type RateLimiter,
  RedisRateLimiter,
  RedisReplayGuard,
  RedisSessionStore,
  type ReplayGuard,
  type SessionStore,
} from '@koodrive/auth';
import { sessionKey, UPLOAD_SCOPE } from '@koodrive/protocol';
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
  readonly replays: ReplayGuard;
  rateLimiter(limit: RateLimit): RateLimiter;
  // the ids of the events published so far, oldest first
  publishedIds(): Promise<string[]>;
  // lets `ms` pass: real time for Redis, the fake clock for the memory implementations
  elapse(ms: number): Promise<void>;
}

const redis = new Redis(process.env.REDIS_URL!);
const stream = `koodrive:test:ports:${randomUUID()}`;

// Redis on an injected clock: the keys a test made are tracked, and letting time pass takes that
// much off each one's TTL (gone once it reaches 0), so expiry is tested without waiting for it.
function redisBackend(): Backend {
  const keys = new Set<string>();
  const sessions = new RedisSessionStore(redis);
  const replays = new RedisReplayGuard(redis);
  return {
    name: 'Redis',
    sessions: {
      put: (token, session, ttl) => (keys.add(sessionKey(token)), sessions.put(token, session, ttl)),
      touch: (token) => (keys.add(sessionKey(token)), sessions.touch(token)),
    },
    events: new RedisEventPublisher(redis, stream),
    replays: {
      firstUse: (key, ttl) => (keys.add(`koodrive:app-signature:${key}`), replays.firstUse(key, ttl)),
    },
    rateLimiter: (limit) => {
      const limiter = new RedisRateLimiter(redis, limit);
      return { consume: (user) => (keys.add(`koodrive:ratelimit:${user}`), limiter.consume(user)) };
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
  return {
    name: 'memory',
    sessions: new MemorySessionStore(clock),
    events,
    replays: new MemoryReplayGuard(clock),
    rateLimiter: (limit) => new MemoryRateLimiter(limit, clock),
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
    it('answers a stored session, and null for an unknown token', async () => {
      const session = newSession();
      const token = randomUUID();
      await backend.sessions.put(token, session, 60);
      assert.deepEqual(await backend.sessions.touch(token), session);
      assert.equal(await backend.sessions.touch(randomUUID()), null);
    });

    it('expires a session left idle past its TTL', async () => {
      const token = randomUUID();
      await backend.sessions.put(token, newSession(), 1);
      await backend.elapse(1_200);
      assert.equal(await backend.sessions.touch(token), null);
    });

    it('restarts the 20 idle minutes on each touch (sliding expiry)', async () => {
      const session = newSession();
      const token = randomUUID();
      await backend.sessions.put(token, session, 1);
      await backend.elapse(600);
      assert.deepEqual(await backend.sessions.touch(token), session);
      await backend.elapse(900); // past the first TTL: the touch gave it 1200 s again
      assert.deepEqual(await backend.sessions.touch(token), session);
    });

    it('allows `requests` per window per user, then answers the seconds left, then a new window', async () => {
      const limiter = backend.rateLimiter({ requests: 2, windowSeconds: 1 });
      const user = `u-${randomUUID()}`;
      assert.equal((await limiter.consume(user)).allowed, true);
      assert.equal((await limiter.consume(user)).allowed, true);
      assert.deepEqual(await limiter.consume(user), { allowed: false, retryAfterSeconds: 1 });
      assert.equal((await limiter.consume(`u-${randomUUID()}`)).allowed, true, 'another user is not limited');
      await backend.elapse(1_200);
      assert.equal((await limiter.consume(user)).allowed, true, 'a new window');
    });

    it('answers Retry-After as the seconds left in the window', async () => {
      const limiter = backend.rateLimiter({ requests: 1, windowSeconds: 30 });
      const user = `u-${randomUUID()}`;
      await limiter.consume(user);
      const refused = await limiter.consume(user);
      assert.equal(refused.allowed, false);
      assert.ok(refused.retryAfterSeconds >= 29 && refused.retryAfterSeconds <= 30, `${refused.retryAfterSeconds}`);
    });

    it('allows everything when the limit is off', async () => {
      const limiter = backend.rateLimiter({ requests: 0, windowSeconds: 30 });
      const user = `u-${randomUUID()}`;
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await limiter.consume(user), { allowed: true, retryAfterSeconds: 0 });
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
      const key = `app-1:${randomUUID()}`;
      assert.equal(await backend.replays.firstUse(key, 1), true);
      assert.equal(await backend.replays.firstUse(key, 1), false);
      assert.equal(await backend.replays.firstUse(`${key}x`, 1), true);
      await backend.elapse(1100);
      assert.equal(await backend.replays.firstUse(key, 1), true);
    });
  });
}

describe('the Redis implementations only', () => {
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
      await assert.rejects(new RedisSessionStore(dead).touch('tok'), isRedisDown);
      await assert.rejects(new RedisSessionStore(dead).put('tok', newSession(), 60), isRedisDown);
      await assert.rejects(new RedisRateLimiter(dead, { requests: 1, windowSeconds: 30 }).consume('u'), isRedisDown);
      await assert.rejects(new RedisEventPublisher(dead, stream).publish([newEvent()]), isRedisDown);
      await assert.rejects(new RedisReplayGuard(dead).firstUse('k', 60), isRedisDown);
    } finally {
      dead.disconnect();
    }
  });
});

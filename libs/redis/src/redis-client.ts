import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisSentinelConfig } from '@koodrive/config';
import { DependencyUnavailableError } from '@koodrive/errors';
import { timeDependency } from '@koodrive/metrics';

// Where the service's Redis is: one server (REDIS_URL), or the primary the sentinels name
// (REDIS_SENTINELS, REDIS_SENTINEL_NAME), with REDIS_URL's credentials and database number if given.
export type RedisTarget = string | { readonly url?: string; readonly sentinel: RedisSentinelConfig };

// The service's one Redis connection. Commands fail fast when Redis is down (the caller answers
// 503); the connection's state is logged once per outage.
// `commandTimeoutMs` bounds every command (a Redis that stops answering, frozen or partitioned).
export function connectRedis(target: RedisTarget, commandTimeoutMs = 2_000): Redis {
  const options: RedisOptions = {
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  };
  const redis = typeof target === 'string' ? new Redis(target, options) : sentinelClient(target, options);
  watchConnection(redis, typeof target === 'string' ? undefined : target.sentinel.name);
  return redis;
}

// The primary the sentinels name: every reconnection asks them again and checks the node's role,
// a failover the sentinels announce (+switch-master) moves the client at once, and a write refused
// by a primary turned replica (READONLY) makes it reconnect. REDIS_URL, when given, lends its
// credentials and database number (its host is not used).
function sentinelClient(target: Exclude<RedisTarget, string>, options: RedisOptions): Redis {
  const sentinelOptions: RedisOptions = {
    ...options,
    sentinels: target.sentinel.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.sentinel.name,
    role: 'master',
    failoverDetector: true,
    sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
  return target.url === undefined ? new Redis(sentinelOptions) : new Redis(target.url, sentinelOptions);
}

// Logs an outage once, its end, and (through Sentinel) each primary the client settles on.
function watchConnection(redis: Redis, sentinelName: string | undefined): void {
  const logger = new Logger('Redis');
  let down = false;
  let primary: string | undefined;
  redis.on('error', (error: Error) => {
    if (!down) {
      down = true;
      logger.warn({ msg: 'Redis connection lost; reconnecting', err: error.message });
    }
  });
  redis.on('ready', () => {
    if (down) {
      down = false;
      logger.log({ msg: 'Redis connection back' });
    }
    const address = `${redis.stream.remoteAddress}:${redis.stream.remotePort}`;
    if (sentinelName !== undefined && address !== primary) {
      logger.log({ msg: `Redis primary of "${sentinelName}" (through Sentinel) is ${address}` });
      primary = address;
    }
  });
}

// One Redis command, timed as a dependency call; a failure is Redis being unavailable (503),
// except a key holding another type than the command reads (WRONGTYPE): a record that is not one,
// which a reader takes as no record (`wrongType`, when given, is answered instead).
export async function redisCommand<T>(
  operation: string,
  command: () => Promise<T>,
  options: { wrongType?: T } = {},
): Promise<T> {
  try {
    return await timeDependency('redis', operation, command);
  } catch (error) {
    if ('wrongType' in options && error instanceof Error && error.message.startsWith('WRONGTYPE')) {
      return options.wrongType as T;
    }
    throw new DependencyUnavailableError('redis', error);
  }
}

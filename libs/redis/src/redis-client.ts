import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { DependencyUnavailableError } from '@koodrive/errors';
import { timeDependency } from '@koodrive/metrics';

// The service's one Redis connection. Commands fail fast when Redis is down (the caller answers
// 503); the connection's state is logged once per outage.
// `commandTimeoutMs` bounds every command (a Redis that stops answering, frozen or partitioned).
export function connectRedis(url: string, commandTimeoutMs = 2_000): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  const logger = new Logger('Redis');
  let down = false;
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
  });
  return redis;
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

import type { Redis } from 'ioredis';
import { redisCommand } from '@koodrive/redis';
import { parseQuota, QUOTA_KEY_PREFIX, type QuotaRecord, type QuotaStore } from './quota.store.js';

// what a key of another type than a string is read as (a record that is not one)
export const WRONG_TYPE_QUOTA: QuotaRecord = Object.freeze({
  state: 'malformed',
  reason: 'the key holds another Redis type than a string',
});

export class RedisQuotaStore implements QuotaStore {
  constructor(private readonly redis: Redis) {}

  async find(containerId: string): Promise<QuotaRecord> {
    const raw = await redisCommand<string | null | undefined>(
      'GET',
      () => this.redis.get(QUOTA_KEY_PREFIX + containerId),
      {
        wrongType: undefined,
      },
    );
    return raw === undefined ? WRONG_TYPE_QUOTA : parseQuota(raw);
  }
}

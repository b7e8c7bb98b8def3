import type { Redis } from 'ioredis';
import { redisCommand } from '@koodrive/redis';
import { parseQuota, type Quota, QUOTA_KEY_PREFIX, type QuotaStore } from './quota.store.js';

export class RedisQuotaStore implements QuotaStore {
  constructor(private readonly redis: Redis) {}

  async find(containerId: string): Promise<Quota | null> {
    const raw = await redisCommand('GET', () => this.redis.get(QUOTA_KEY_PREFIX + containerId), { wrongType: null });
    return raw === null ? null : parseQuota(raw);
  }
}

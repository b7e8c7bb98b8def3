import type { Redis } from 'ioredis';
import type { KeyValueHealth } from './key-value-health.js';

export class RedisHealth implements KeyValueHealth {
  constructor(private readonly redis: Redis) {}

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}

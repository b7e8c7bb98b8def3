export { EVENT_PUBLISHER, type EventPublisher } from './event-publisher.js';
export { KEY_VALUE_HEALTH, type KeyValueHealth } from './key-value-health.js';
export { REDIS, RedisModule } from './redis.module.js';
export { redisCommand } from './redis-client.js';

export { connectRedis, redisCommand, type RedisTarget } from './redis-client.js';
export { BLOCKING_REDIS, REDIS, RedisModule } from './redis.module.js';

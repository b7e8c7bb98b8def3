export { connectRedis, redisCommand } from './redis-client.js';
export { REDIS, RedisModule } from './redis.module.js';

export { InjectRedis, REDIS, RedisModule } from './redis.module.js';

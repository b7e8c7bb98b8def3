// Where committed file events go (the outbox relay's port): the Redis stream EVENTS_STREAM, or the
// process when REDIS_URL is unset.
import { Global, Module } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { type AppConfig, APP_CONFIG } from '@koodrive/config';
import { BLOCKING_REDIS } from '@koodrive/redis';
import { EVENT_PUBLISHER, type EventPublisher } from './event-publisher.js';
import { MemoryEventPublisher } from './memory-event-publisher.js';
import { RedisEventPublisher } from './redis-event-publisher.js';

@Global()
@Module({
  providers: [
    {
      provide: EVENT_PUBLISHER,
      // a connection of its own: a WAIT for replicas blocks it
      inject: [BLOCKING_REDIS, APP_CONFIG],
      useFactory: (redis: Redis | null, config: AppConfig): EventPublisher =>
        redis === null
          ? new MemoryEventPublisher()
          : new RedisEventPublisher(redis, config.maintenance.eventsStream, {
              replicas: config.maintenance.eventsWaitReplicas,
              // within the command's own bound
              timeoutMs: Math.floor(config.timeouts.redisCommandMs / 2),
            }),
    },
  ],
  exports: [EVENT_PUBLISHER],
})
export class EventsModule {}

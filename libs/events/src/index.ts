export { EVENT_PUBLISHER, type EventPublisher } from './event-publisher.js';
export { EventsModule } from './events.module.js';
export { MemoryEventPublisher } from './memory-event-publisher.js';
export { RedisEventPublisher } from './redis-event-publisher.js';

import { Logger } from '@nestjs/common';
import type { OutboxMessage } from '@koodrive/database';
import type { EventPublisher } from './event-publisher.js';

const DEFAULT_CAPACITY = 1_000;

// Events of an embedded run (REDIS_URL unset): nobody consumes them, so the last few are kept for
// a look in a debugger or a test, and each is logged at debug level.
export class MemoryEventPublisher implements EventPublisher {
  private readonly logger = new Logger('Events');
  private readonly events: OutboxMessage[] = [];

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  publish(events: readonly OutboxMessage[]): Promise<void> {
    for (const event of events) {
      this.logger.debug({
        msg: 'event published',
        id: event.id,
        type: event.type,
        fileId: event.fileId,
        xTraceid: event.xTraceid,
      });
      this.events.push(event);
    }
    if (this.events.length > this.capacity) {
      this.events.splice(0, this.events.length - this.capacity);
    }
    return Promise.resolve();
  }

  // the last `capacity` events, oldest first
  recent(): readonly OutboxMessage[] {
    return [...this.events];
  }
}

// Publishes the outbox's events through the event publisher (a Redis stream, or the process when
// REDIS_URL is unset), at least once, in id order per batch.
import { Inject, Injectable } from '@nestjs/common';
import { OutboxRepository } from '@koodrive/database';
import { maintenanceActions } from '@koodrive/metrics';
import { EVENT_PUBLISHER, type EventPublisher } from '@koodrive/events';

const BATCH = 100;

@Injectable()
export class OutboxRelayService {
  constructor(
    private readonly outbox: OutboxRepository,
    @Inject(EVENT_PUBLISHER) private readonly publisher: EventPublisher,
  ) {}

  // Publishes until the outbox is empty; returns how many events went out.
  async relay(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.outbox.relayBatch(BATCH, (events) => this.publisher.publish(events));
      total += published;
      maintenanceActions.inc({ task: 'outbox-relay', action: 'published' }, published);
      if (published < BATCH) {
        return total;
      }
    }
  }
}

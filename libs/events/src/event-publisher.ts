// The outbox relay's port: where file events go once committed (a Redis stream, or the process).
import type { OutboxMessage } from '@koodrive/database';

export const EVENT_PUBLISHER = Symbol('EVENT_PUBLISHER');

export interface EventPublisher {
  // Publishes the batch in order, at least once: when it throws (DependencyUnavailableError), the
  // relay publishes the batch again later.
  publish(events: readonly OutboxMessage[]): Promise<void>;
}

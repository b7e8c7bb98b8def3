// Publishes the outbox's events to a Redis stream (XADD), at least once, in id order per batch.
// Each entry carries the outbox id (consumers dedupe on it), the event type, the file id, the
// JSON payload, and the trace ids of the operation that caused it.
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@koodrive/config';
import { type OutboxMessage, OutboxRepository } from '@koodrive/database';
import { DependencyUnavailableError } from '@koodrive/errors';
import { maintenanceActions, timeDependency } from '@koodrive/metrics';
import { InjectRedis } from '@koodrive/redis';

const BATCH = 100;
// the stream is trimmed (approximately) to this many entries
const STREAM_MAX_LENGTH = 1_000_000;

@Injectable()
export class OutboxRelay {
  constructor(
    private readonly outbox: OutboxRepository,
    @InjectRedis() private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  // Publishes until the outbox is empty; returns how many events went out.
  async relay(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.outbox.relayBatch(BATCH, (events) => this.publish(events));
      total += published;
      maintenanceActions.inc({ job: 'outbox-relay', action: 'published' }, published);
      if (published < BATCH) {
        return total;
      }
    }
  }

  private async publish(events: readonly OutboxMessage[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const event of events) {
      pipeline.xadd(
        this.config.maintenance.eventsStream,
        'MAXLEN',
        '~',
        STREAM_MAX_LENGTH,
        '*',
        'id',
        event.id,
        'type',
        event.type,
        'fileId',
        event.fileId,
        'payload',
        JSON.stringify(event.payload),
        'traceId',
        event.traceId ?? '',
        'xTraceid',
        event.xTraceid ?? '',
        'createdAt',
        event.createdAt.toISOString(),
      );
    }
    let results;
    try {
      results = await timeDependency('redis', 'XADD', () => pipeline.exec());
    } catch (error) {
      throw new DependencyUnavailableError('redis', error);
    }
    const failed = results?.find(([error]) => error !== null);
    if (results === null || failed !== undefined) {
      throw new DependencyUnavailableError('redis', failed?.[0] ?? new Error('pipeline discarded'));
    }
  }
}

import type { Redis } from 'ioredis';
import type { OutboxMessage } from '@koodrive/database';
import { DependencyUnavailableError } from '@koodrive/errors';
import type { EventPublisher } from './event-publisher.js';
import { redisCommand } from '@koodrive/redis';

// the stream is trimmed (approximately) to this many entries
const STREAM_MAX_LENGTH = 1_000_000;

// One XADD per event, pipelined. Each entry carries the outbox id (consumers dedupe on it), the
// event type, the file id, the JSON payload, and the trace ids of the operation that caused it.
export class RedisEventPublisher implements EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
  ) {}

  async publish(events: readonly OutboxMessage[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const event of events) {
      pipeline.xadd(
        this.stream,
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
    const results = await redisCommand('XADD', () => pipeline.exec());
    const failed = results?.find(([error]) => error !== null);
    if (results === null || failed !== undefined) {
      throw new DependencyUnavailableError('redis', failed?.[0] ?? new Error('pipeline discarded'));
    }
  }
}

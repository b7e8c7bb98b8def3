import type { Redis } from 'ioredis';
import type { OutboxMessage } from '@koodrive/database';
import { DependencyUnavailableError } from '@koodrive/errors';
import type { EventPublisher } from './event-publisher.js';
import { redisCommand } from '@koodrive/redis';

// the stream is trimmed (approximately) to this many entries
const STREAM_MAX_LENGTH = 1_000_000;

// How many replicas must hold a batch before it counts as published (Redis WAIT), and how long
// the primary may wait for them.
export interface ReplicaWait {
  readonly replicas: number;
  readonly timeoutMs: number;
}

// One XADD per event, pipelined. Each entry carries the outbox id (consumers dedupe on it), the
// event type, the file id, the JSON payload, and the trace ids of the operation that caused it.
// With `wait`, a WAIT follows the XADDs in the same pipeline: a primary acknowledges a write before
// its replicas have it, and a failover promotes a replica, so a batch fewer replicas hold than
// asked is not published as far as the relay knows; it goes again later (duplicates, never a loss).
// A primary with fewer replicas connected than asked (the new primary of a failover, until the old
// one comes back as its replica) is not sent the batch at all: every relay run would add it again.
export class RedisEventPublisher implements EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly wait: ReplicaWait = { replicas: 0, timeoutMs: 0 },
  ) {}

  async publish(events: readonly OutboxMessage[]): Promise<void> {
    if (this.wait.replicas > 0) {
      await this.enoughReplicas();
    }
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
    if (this.wait.replicas > 0) {
      pipeline.wait(this.wait.replicas, this.wait.timeoutMs);
    }
    const results = await redisCommand('XADD', () => pipeline.exec());
    const failed = results?.find(([error]) => error !== null);
    if (results === null || failed !== undefined) {
      throw new DependencyUnavailableError('redis', failed?.[0] ?? new Error('pipeline discarded'));
    }
    const acknowledged = this.wait.replicas > 0 ? (results.at(-1)?.[1] as number) : 0;
    if (acknowledged < this.wait.replicas) {
      throw new DependencyUnavailableError(
        'redis',
        new Error(`${acknowledged} of the ${this.wait.replicas} replica(s) asked for hold the events`),
      );
    }
  }

  // Fails, sending nothing, when the primary has fewer replicas connected than the wait asks for.
  private async enoughReplicas(): Promise<void> {
    const role = await redisCommand('ROLE', () => this.redis.role());
    const connected = role[0] === 'master' && Array.isArray(role[2]) ? role[2].length : 0;
    if (connected < this.wait.replicas) {
      throw new DependencyUnavailableError(
        'redis',
        new Error(
          `the primary has ${connected} replica(s) connected, ${this.wait.replicas} asked for: the events wait in the outbox`,
        ),
      );
    }
  }
}

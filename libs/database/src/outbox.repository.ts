// The transactional outbox's reading side. Events are written by FileRepository in the same
// transaction as the change they announce; here a relay takes a batch of unpublished events,
// publishes them and marks them published. Rows are locked with SKIP LOCKED, so relays in many
// replicas share the work without publishing one row twice at the same time; a crash between
// publishing and the commit publishes the batch again (at least once: consumers dedupe on `id`).
import { Injectable } from '@nestjs/common';
import { translateDatabaseErrors } from './database-errors.js';
import { PrismaService } from './prisma.service.js';

export interface OutboxMessage {
  readonly id: string;
  readonly type: string;
  readonly fileId: string;
  readonly payload: unknown;
  readonly traceId: string | null;
  readonly xTraceid: string | null;
  readonly createdAt: Date;
}

@Injectable()
export class OutboxRepository {
  constructor(private readonly prisma: PrismaService) {}

  // Publishes up to `limit` events in id order through `publish`; returns how many were published.
  // If `publish` throws, nothing is marked and the events stay for the next round.
  async relayBatch(limit: number, publish: (events: readonly OutboxMessage[]) => Promise<void>): Promise<number> {
    return translateDatabaseErrors(() =>
      this.prisma.$transaction(
        async (tx) => {
          const rows = await tx.$queryRaw<
            {
              id: bigint;
              type: string;
              fileId: string;
              payload: unknown;
              traceId: string | null;
              xTraceid: string | null;
              createdAt: Date;
            }[]
          >`
            SELECT id, type, file_id AS "fileId", payload, trace_id AS "traceId", x_traceid AS "xTraceid",
                   created_at AS "createdAt"
              FROM outbox_events
             WHERE published_at IS NULL
             ORDER BY id
             LIMIT ${limit}
               FOR UPDATE SKIP LOCKED`;
          if (rows.length === 0) {
            return 0;
          }
          await publish(rows.map((row) => ({ ...row, id: row.id.toString() })));
          await tx.outboxEvent.updateMany({
            where: { id: { in: rows.map((row) => row.id) } },
            data: { publishedAt: new Date() },
          });
          return rows.length;
        },
        { timeout: 15_000 },
      ),
    );
  }
}

// The outbox's days, when the migrations partitioned it with pg_partman (@koodrive/migrations,
// partitioning.ts): days made ahead, and days dropped once they are past the retention and every
// event in them is published. Without pg_partman (the embedded database, DATABASE_PARTITIONING=none)
// there is nothing to do.
import { Injectable } from '@nestjs/common';
import pg from 'pg';
import { PrismaService } from './prisma.service.js';
import { raw, sql } from './sql.js';

export interface OutboxPartitionsReport {
  // false: outbox_events is a plain table here
  readonly partitioned: boolean;
  // days dropped by this run
  readonly dropped: number;
}

interface PartmanRow {
  readonly schema: string;
  readonly parent: string | null;
}

@Injectable()
export class OutboxPartitionsRepository {
  constructor(private readonly prisma: PrismaService) {}

  // Makes the days ahead that are missing, then drops the days that ended before both the
  // retention window and the oldest unpublished event. pg_partman serialises each step across
  // replicas with an advisory lock of its own (a replica that finds it taken does nothing).
  async maintain(retentionDays: number): Promise<OutboxPartitionsReport> {
    const [partman] = await this.prisma.sql.query<PartmanRow>(sql`
      SELECT e.extnamespace::regnamespace::text AS schema,
             (SELECT n.nspname || '.' || c.relname
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.oid = to_regclass('outbox_events')) AS parent
        FROM pg_extension e
       WHERE e.extname = 'pg_partman'`);
    if (partman === undefined || partman.parent === null) {
      return { partitioned: false, dropped: 0 };
    }
    const schema = raw(pg.escapeIdentifier(partman.schema));
    const [config] = await this.prisma.sql.query<{ found: number }>(
      sql`SELECT 1 AS found FROM ${schema}.part_config WHERE parent_table = ${partman.parent}`,
    );
    if (config === undefined) {
      return { partitioned: false, dropped: 0 };
    }
    await this.prisma.sql.query(
      sql`SELECT ${schema}.run_maintenance(${partman.parent}, p_analyze := false, p_jobmon := false)`,
    );
    const retention = `${retentionDays} days`;
    // A day is dropped when it ended before `reference - retention`. The reference stops at the
    // oldest unpublished event plus the retention, so no day holding an event the relay has yet
    // to publish goes. Events are written with created_at = now() into today's child, so no
    // older day can gain an unpublished event after this reading (a transaction would have to
    // stay open for the whole retention, which the statement bounds forbid).
    const [reference] = await this.prisma.sql.query<{ at: Date }>(sql`
      SELECT LEAST(now(), min(created_at) + ${retention}::interval) AS at
        FROM outbox_events
       WHERE published_at IS NULL`);
    const [dropped] = await this.prisma.sql.query<{ count: number | null }>(sql`
      SELECT ${schema}.drop_partition_time(${partman.parent}, ${retention}::interval, p_keep_table := false,
                                             p_reference_timestamp := ${reference?.at ?? new Date()}) AS count`);
    return { partitioned: true, dropped: dropped?.count ?? 0 };
  }
}

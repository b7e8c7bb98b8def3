// The outbox partitioned by day with pg_partman (issue 18): db:migrate partitions outbox_events in a
// new database and leaves it be the second time; a completed file's event lands in today's child
// table and is published once; the relay's scan reads every day through its own copy of the partial
// index; OutboxPartitionsService drops the days past the retention whose
// events are all published, and keeps a day holding an unpublished event and every day after it.
// What is partitioned is read from PostgreSQL's catalog (pg_inherits), not from pg_partman's or
// our bookkeeping. Runs against the real PostgreSQL (with Debian's pg_partman, installed by
// services:up), Redis and RGW.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '@koodrive/config';
import { OutboxPartitionsRepository, OutboxRepository, PrismaService } from '@koodrive/database';
import { migrate } from '../../tools/db/migrate.ts';
import { planNodes, statementsSentBy } from '../support/query-plans.ts';
import {
  call,
  closeTestRedis,
  newUser,
  sha256Hex,
  startApp,
  streamEntries,
  testBytes,
  type TestApp,
  upload,
} from '../support/harness.ts';

const { OutboxPartitionsService } = await import('../../apps/upload/src/maintenance/outbox-partitions.service.ts');
const { OutboxRelayService } = await import('../../apps/upload/src/maintenance/outbox-relay.service.ts');

const server = new URL(process.env.DIRECT_DATABASE_URL ?? process.env.DATABASE_URL!);
const RETENTION_DAYS = 7;

function databaseUrl(name: string): string {
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer<T>(use: (client: pg.Client) => Promise<T>, url = databaseUrl('postgres')): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

// outbox_events' child tables and the rows each holds, from the catalog
async function children(client: pg.Client): Promise<Map<string, number>> {
  const { rows } = await client.query<{ child: string }>(
    "SELECT inhrelid::regclass::text AS child FROM pg_inherits WHERE inhparent = 'outbox_events'::regclass",
  );
  const counts = new Map<string, number>();
  for (const { child } of rows) {
    const { rows: counted } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${child}`);
    counts.set(child, Number(counted[0]!.n));
  }
  return counts;
}

// the child pg_partman names for the day `daysAgo` before today (UTC, the server's time zone here)
function dayTable(daysAgo: number): string {
  const day = new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
  return `outbox_events_p${day.replaceAll('-', '_')}`;
}

describe('the outbox partitioned by day with pg_partman', () => {
  const name = `koodrive_partitions_${randomBytes(4).toString('hex')}_test`;
  const url = databaseUrl(name);
  let db: pg.Client;
  let t: TestApp;

  before(async () => {
    await onServer((client) => client.query(`CREATE DATABASE ${name}`));
    db = new pg.Client({ connectionString: url });
    await db.connect();
  });
  after(async () => {
    await t?.close();
    await closeTestRedis();
    await db?.end();
    await onServer((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  it('db:migrate partitions outbox_events in a new database, and finds it partitioned the second time', async () => {
    const timezone = await db.query<{ TimeZone: string }>('SHOW TimeZone');
    assert.match(timezone.rows[0]!.TimeZone, /^(UTC|Etc\/UTC|GMT)$/, 'day names below are UTC days');

    const first = await migrate(url, 'TEST_DATABASE_URL', 'pg_partman');
    assert.ok(first.applied.length > 0);
    assert.deepEqual(first.partitioning, { state: 'partitioned', movedRows: 0 });
    const days = await children(db);
    // today and four days ahead exist, empty
    for (const ahead of [0, 1, 2, 3, 4]) {
      assert.equal(days.get(dayTable(-ahead)), 0, `${dayTable(-ahead)} exists`);
    }

    const second = await migrate(url, 'TEST_DATABASE_URL', 'pg_partman');
    assert.deepEqual(second, { applied: [], partitioning: { state: 'already-partitioned' } });
  });

  it("puts a completed file's event in today's table, published once by the relay", async () => {
    t = await startApp({ DATABASE_URL: url, OUTBOX_RETENTION_DAYS: String(RETENTION_DAYS) });
    const user = await newUser();
    const data = testBytes(64 * 1024, 18);
    const { fileId } = await upload(t.baseUrl, user, data);
    const done = await call(t.baseUrl, 'complete', { fileId }, { token: user.token });
    assert.equal(done.body.code, 0, JSON.stringify(done.body));
    assert.equal(done.body.sha256, sha256Hex(data));

    const { rows } = await db.query<{ child: string }>(
      'SELECT tableoid::regclass::text AS child FROM outbox_events WHERE file_id = $1',
      [fileId],
    );
    assert.deepEqual(rows, [{ child: dayTable(0) }]);
    const parentOnly = await db.query<{ n: string }>('SELECT count(*) AS n FROM ONLY outbox_events');
    assert.equal(parentOnly.rows[0]!.n, '0', 'the parent table holds nothing');

    assert.equal(await t.app.get(OutboxRelayService).relay(), 1);
    assert.equal(await t.app.get(OutboxRelayService).relay(), 0);
    assert.equal((await streamEntries(fileId)).length, 1);
  });

  it("takes unpublished events (the relay's scan) through each day's copy of the partial index", async () => {
    const sent = await statementsSentBy(() => t.app.get(OutboxRepository).relayBatch(100, () => Promise.resolve()));
    assert.ok(sent.length > 0, 'the relay sent no statement');
    const days = [...(await children(db)).keys()];
    // with sequential scans priced out, a table the planner can read only sequentially still is:
    // so no Seq Scan means every table of the outbox, parent and days, has an index for this scan
    await db.query('SET enable_seqscan = off');
    // the statements whose plan was checked: at least the scan itself
    let explained = 0;
    try {
      for (const statement of sent) {
        const nodes = await planNodes(db, statement);
        const read = nodes.filter((node) => node['Relation Name']?.startsWith('outbox_events') === true);
        if (read.length === 0) {
          continue; // the relay's UPDATE of what it published (none here)
        }
        explained++;
        assert.deepEqual(
          read.filter((node) => !['Index Scan', 'Index Only Scan'].includes(node['Node Type'])),
          [],
          `a table of the outbox read otherwise than by an index in:\n${statement.text}`,
        );
        const indexOf = new Map(read.map((node) => [node['Relation Name'], node['Index Name']]));
        assert.equal(indexOf.get('outbox_events'), 'outbox_events_unpublished_id_idx');
        for (const day of days) {
          assert.equal(indexOf.get(day), `${day}_id_idx`, `${day} is read through its partial index`);
        }
      }
    } finally {
      await db.query('RESET enable_seqscan');
    }
    assert.ok(explained >= 1, `no statement of the relay's ${sent.length} read the outbox: nothing was EXPLAINed`);
    const { rows } = await db.query<{ definition: string }>(
      'SELECT indexdef AS definition FROM pg_indexes WHERE indexname = $1',
      [`${dayTable(0)}_id_idx`],
    );
    assert.match(rows[0]!.definition, /\(id\) WHERE \(published_at IS NULL\)$/, "today's copy is the partial index");
  });

  it('drops the days past the retention whose events are all published, and no day from an unpublished one on', async () => {
    const service = t.app.get(OutboxPartitionsService);
    const { rows: anyFile } = await db.query<{ id: string }>('SELECT id FROM files LIMIT 1');
    const fileId = anyFile[0]!.id;
    // days 20, 15 and 10 ago, each with two events; one event of day 15 is not published yet
    await db.query(
      "SELECT partman.create_partition_time('public.outbox_events', ARRAY[now() - interval '20 days', now() - interval '15 days', now() - interval '10 days'])",
    );
    for (const daysAgo of [20, 15, 10]) {
      await db.query(
        `INSERT INTO outbox_events (type, file_id, payload, created_at, published_at)
         SELECT 'file.completed', $1, '{}', now() - make_interval(days => $2), CASE WHEN $2 = 15 AND n = 1 THEN NULL ELSE now() END
           FROM generate_series(1, 2) n`,
        [fileId, daysAgo],
      );
    }
    const before = await children(db);
    for (const daysAgo of [20, 15, 10]) {
      assert.equal(before.get(dayTable(daysAgo)), 2, `${dayTable(daysAgo)} holds its two events`);
    }

    const first = await service.maintain();
    assert.deepEqual(first, { partitioned: true, dropped: 1 });
    const kept = await children(db);
    assert.equal(kept.has(dayTable(20)), false, 'day 20, all published, is dropped');
    assert.equal(kept.get(dayTable(15)), 2, 'day 15 holds an unpublished event: kept');
    assert.equal(kept.get(dayTable(10)), 2, 'day 10 comes after an unpublished event: kept');
    assert.equal(kept.get(dayTable(0)), 1, "today's event stays");

    await db.query('UPDATE outbox_events SET published_at = now() WHERE published_at IS NULL');
    assert.deepEqual(await service.maintain(), { partitioned: true, dropped: 2 });
    const after = await children(db);
    assert.equal(after.has(dayTable(15)), false);
    assert.equal(after.has(dayTable(10)), false);
    // days within the retention stay, and the days ahead are still made
    assert.equal(after.get(dayTable(0)), 1);
    assert.equal(after.get(dayTable(-4)), 0);
  });

  it('DATABASE_PARTITIONING=none leaves outbox_events a plain table, which the service leaves alone', async () => {
    const plain = `koodrive_plain_${randomBytes(4).toString('hex')}_test`;
    await onServer((client) => client.query(`CREATE DATABASE ${plain}`));
    try {
      const report = await migrate(databaseUrl(plain), 'TEST_DATABASE_URL', 'none');
      assert.deepEqual(report.partitioning, { state: 'off' });
      await onServer(async (client) => assert.equal((await children(client)).size, 0), databaseUrl(plain));
      const prisma = new PrismaService(loadConfig(process.env), { url: databaseUrl(plain), poolSize: 1 });
      try {
        assert.deepEqual(await new OutboxPartitionsRepository(prisma).maintain(RETENTION_DAYS), {
          partitioned: false,
          dropped: 0,
        });
      } finally {
        await prisma.close();
      }
    } finally {
      await onServer((client) => client.query(`DROP DATABASE IF EXISTS ${plain} WITH (FORCE)`));
    }
  });
});

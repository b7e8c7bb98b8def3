// Every scan the background jobs run (reconciler, reaper, the uploads gauge, outbox relay) reads
// the partial index of live rows made for it, on a files table that is mostly history (97 % of
// 200,000 rows terminal, tools/testing/file-history.ts) after VACUUM ANALYZE: no sequential scan of
// files or outbox_events. The statements checked are the ones the repositories send, recorded on
// the way to the server (pg's Client.query), then EXPLAINed with the same values.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '@koodrive/config';
import { MaintenanceRepository, OutboxRepository, PrismaService } from '@koodrive/database';
import { applyMigrations, prismaSources } from '@koodrive/migrations';
import { loadFileHistory } from '../../tools/testing/file-history.ts';
import { newUploadFile } from '../support/factories.ts';
import { type PlanNode, planNodes, statementsSentBy } from '../support/query-plans.ts';

const HISTORY_ROWS = 200_000;
// work of each kind, beside the history
const DUE = 30;
const BATCH = 100;

// a database of this spec's own beside the tests' one (the rows it loads would be in other specs' way)
const serverUrl = new URL(process.env.DIRECT_DATABASE_URL ?? process.env.DATABASE_URL!);
const databaseName = `${serverUrl.pathname.slice(1).replace(/_test$/, '')}_scans_test`;
const databaseUrl = Object.assign(new URL(serverUrl), { pathname: `/${databaseName}` }).toString();

const SCANNED_TABLES = new Set(['files', 'outbox_events']);

describe('the background scans at scale', () => {
  let admin: pg.Client;
  let db: pg.Client;
  let prisma: PrismaService;
  let maintenance: MaintenanceRepository;
  let outbox: OutboxRepository;

  // The plan of each statement `run` sends; none reads files or outbox_events sequentially, and one
  // of them scans `index` (an Index Scan or Index Only Scan).
  async function assertScansOn(index: string, run: () => Promise<unknown>): Promise<void> {
    const sent = await statementsSentBy(run);
    assert.ok(sent.length > 0, 'the repository sent no statement');
    const scans: PlanNode[] = [];
    for (const statement of sent) {
      const nodes = await planNodes(db, statement);
      const sequential = nodes.filter(
        (node) => node['Node Type'] === 'Seq Scan' && SCANNED_TABLES.has(node['Relation Name'] ?? ''),
      );
      assert.deepEqual(sequential, [], `a sequential scan in the plan of:\n${statement.text}`);
      scans.push(...nodes);
    }
    const onIndex = scans.filter(
      (node) => ['Index Scan', 'Index Only Scan'].includes(node['Node Type']) && node['Index Name'] === index,
    );
    assert.ok(
      onIndex.length > 0,
      `no scan on ${index}; the plans scanned ${JSON.stringify(scans.filter((n) => n['Index Name'] !== undefined || n['Relation Name'] !== undefined).map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']]))}`,
    );
  }

  before(async () => {
    admin = new pg.Client({ connectionString: serverUrl.toString() });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${databaseName}"`);
    const { migrationsDir, schemaPath } = prismaSources();
    await applyMigrations(databaseUrl, { migrationsDir, schemaPath });
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    await loadFileHistory(db, HISTORY_ROWS, { chunk: 100_000 });
    prisma = new PrismaService(loadConfig({ ...process.env, DATABASE_URL: databaseUrl }), {
      url: databaseUrl,
      poolSize: 2,
    });
    maintenance = new MaintenanceRepository(prisma);
    outbox = new OutboxRepository(prisma);
    // the work each scan finds: overdue uploads, lapsed completions, expired uploads not yet
    // aborted, unpublished events
    for (const [status, set] of [
      ['UPLOADING', `expires_at = now() - interval '1 minute'`],
      ['COMPLETING', `claim = 1, claim_expires_at = now() - interval '1 minute'`],
      ['EXPIRED', `updated_at = now() - interval '1 minute'`],
    ] as const) {
      for (let i = 0; i < DUE; i++) {
        const file = newUploadFile({ ownerId: 'u-scans' });
        await db.query(
          `INSERT INTO files (id, owner_id, container_id, parent_folder, file_name, length, storage_key, upload_id,
                              upload_token, expires_at, updated_at, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + interval '1 day', now(), $10)`,
          [
            file.id,
            file.ownerId,
            file.containerId,
            file.parentFolder,
            file.fileName,
            file.length,
            file.storageKey,
            file.uploadId,
            file.uploadToken,
            status,
          ],
        );
        await db.query(`UPDATE files SET ${set} WHERE id = $1`, [file.id]);
        if (status === 'EXPIRED') {
          await db.query(
            `INSERT INTO outbox_events (type, file_id, payload) VALUES ('file.completed', $1, '{}'::jsonb)`,
            [file.id],
          );
        }
      }
    }
    await db.query('ANALYZE files, outbox_events');
  });

  after(async () => {
    await prisma?.close();
    await db?.end();
    await admin?.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    await admin?.end();
  });

  it('finds lapsed completions (the reconciler) on files_completing_claim_expires_at_idx', async () => {
    await assertScansOn('files_completing_claim_expires_at_idx', async () => {
      assert.equal((await maintenance.findLapsedCompletions(BATCH)).length, DUE);
    });
  });

  it('expires overdue uploads (the reaper) on files_uploading_expires_at_idx', async () => {
    await assertScansOn('files_uploading_expires_at_idx', async () => {
      assert.equal((await maintenance.expireOverdueUploads(BATCH, 13000401)).length, DUE);
    });
  });

  it('finds expired uploads still to abort (the reaper) on files_expired_upload_updated_at_idx', async () => {
    await assertScansOn('files_expired_upload_updated_at_idx', async () => {
      // the DUE made expired above, and the DUE the reaper just expired
      assert.equal((await maintenance.findExpiredWithUpload(BATCH)).length, 2 * DUE);
    });
  });

  it('frees an expired upload by its primary key', async () => {
    const [expired] = await maintenance.findExpiredWithUpload(1);
    await assertScansOn('files_pkey', () => maintenance.markUploadFreed(expired!.id));
  });

  it('counts open uploads (the gauge) on the two partial indexes', async () => {
    for (const index of ['files_uploading_expires_at_idx', 'files_completing_claim_expires_at_idx']) {
      await assertScansOn(index, () => maintenance.countOpenByStatus());
    }
  });

  it('takes unpublished events (the outbox relay) on outbox_events_unpublished_id_idx', async () => {
    await assertScansOn('outbox_events_unpublished_id_idx', async () => {
      assert.equal(await outbox.relayBatch(BATCH, () => Promise.resolve()), DUE);
    });
  });
});

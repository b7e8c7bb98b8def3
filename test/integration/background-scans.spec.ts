// Every scan the background jobs run (reconciler, reaper, the uploads gauge, outbox relay) reads
// the partial index of live rows made for it, on a files table that is mostly history (97 % of
// 200,000 rows terminal, tools/testing/file-history.ts) after VACUUM ANALYZE: no sequential scan of
// files or outbox_events. Versions of files are there too (30,000 rows of 10,000 files, a tenth of
// those with a version pending), some of the due work is versions', and the lookups of a file's
// versions (uploadUrl's and completeRevision's newest, createRevision's check and supersede,
// completing one) read their own indexes. The statements checked are the ones the repositories
// send, recorded on the way to the server (pg's Client.query), then EXPLAINed with the same values.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadConfig } from '@koodrive/config';
import {
  CompletionRepository,
  MaintenanceRepository,
  OutboxRepository,
  PrismaService,
  UploadTaskRepository,
  VersionRepository,
} from '@koodrive/database';
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
// files with versions, each with VERSIONS_EACH of them (the last one pending for one in ten)
const VERSIONED_FILES = 10_000;
const VERSIONS_EACH = 3;

// Versions of the first `files` completed files of the history: completed but for the last of one
// file in ten, pending; made a day apart, the newest a day ago.
const INSERT_VERSIONS = `
  INSERT INTO files (id, owner_id, container_id, parent_folder, file_name, length, storage_key, upload_id,
                     upload_token, status, actual_sha256, verified_by, completed_at, expires_at, created_at,
                     updated_at, revision_of, revision_id, revision_version)
  SELECT 'Fv' || substr(md5(f.id || ':v' || n), 1, 31), f.owner_id, f.container_id, f.parent_folder, f.file_name,
         f.length, f.storage_key || '.v' || n,
         CASE WHEN pending THEN 'v-upload-' || md5(f.id) END, md5(f.id || ':v' || n || ':token'),
         (CASE WHEN pending THEN 'UPLOADING' ELSE 'COMPLETED' END)::file_status,
         CASE WHEN NOT pending THEN md5(f.id || n) || md5(f.id || n || 'x') END,
         CASE WHEN NOT pending THEN 'hash_chain' END, CASE WHEN NOT pending THEN now() - interval '1 day' END,
         now() + interval '1 day', now() - (${VERSIONS_EACH + 1} - n) * interval '1 day', now(),
         f.id, '1.' || n, n + 1
    FROM (SELECT id, owner_id, container_id, parent_folder, file_name, length, storage_key,
                 row_number() OVER (ORDER BY id) AS r
            FROM files WHERE status = 'COMPLETED' AND revision_of IS NULL ORDER BY id LIMIT ${VERSIONED_FILES}) f,
         generate_series(1, ${VERSIONS_EACH}) n,
         LATERAL (SELECT n = ${VERSIONS_EACH} AND f.r % 10 = 0 AS pending) p`;

describe('the background scans at scale', () => {
  let admin: pg.Client;
  let db: pg.Client;
  let prisma: PrismaService;
  let maintenance: MaintenanceRepository;
  let outbox: OutboxRepository;
  let tasks: UploadTaskRepository;
  let versions: VersionRepository;
  let completions: CompletionRepository;
  // completed files with no version, to be parents of the versions the tests make
  let parents: { id: string; owner_id: string; container_id: string }[];

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
    tasks = new UploadTaskRepository(prisma);
    versions = new VersionRepository(prisma);
    completions = new CompletionRepository(prisma);
    await db.query(INSERT_VERSIONS);
    ({ rows: parents } = await db.query<{ id: string; owner_id: string; container_id: string }>(
      `SELECT id, owner_id, container_id FROM files WHERE status = 'COMPLETED' AND revision_of IS NULL
        ORDER BY id DESC LIMIT ${3 * DUE + 10}`,
    ));
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
        // half of the due work is versions'
        if (i % 2 === 0) {
          await db.query('UPDATE files SET revision_of = $2 WHERE id = $1', [file.id, parents.pop()!.id]);
        }
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

  it("finds a file's pending version (uploadUrl with the file's id) on files_revision_of_created_at_idx", async () => {
    const { rows } = await db.query<{ parent: string; owner: string; version: string }>(
      `SELECT revision_of AS parent, owner_id AS owner, id AS version FROM files
        WHERE status = 'UPLOADING' AND revision_of IS NOT NULL AND upload_id LIKE 'v-upload-%' LIMIT 1`,
    );
    const [{ parent, owner, version }] = rows as [(typeof rows)[number]];
    await assertScansOn('files_revision_of_created_at_idx', async () => {
      assert.equal((await tasks.findWithPlans(parent, owner))?.file.id, version);
    });
  });

  it("finds a file's newest version (completeRevision) on files_revision_of_created_at_idx", async () => {
    const { rows } = await db.query<{ parent: string; owner: string }>(
      `SELECT revision_of AS parent, owner_id AS owner FROM files
        WHERE revision_of IS NOT NULL AND revision_version = ${VERSIONS_EACH + 1} LIMIT 1`,
    );
    const [{ parent, owner }] = rows as [(typeof rows)[number]];
    await assertScansOn('files_revision_of_created_at_idx', async () => {
      const found = await versions.findWithNewestVersion(parent, owner);
      assert.equal(found?.version?.revisionVersion, VERSIONS_EACH + 1);
    });
  });

  it('creates a version, superseding the pending one (createRevision), on files_pending_revision_key', async () => {
    const { rows } = await db.query<{ parent: string; owner: string; container: string }>(
      `SELECT v.revision_of AS parent, v.owner_id AS owner, v.container_id AS container FROM files v
        WHERE v.status = 'UPLOADING' AND v.upload_id LIKE 'v-upload-%' LIMIT 1`,
    );
    const [{ parent, owner, container }] = rows as [(typeof rows)[number]];
    const version = {
      ...newUploadFile({ ownerId: owner, containerId: container, revisionId: '1.9' }),
      revisionOf: parent,
    };
    await assertScansOn('files_pending_revision_key', async () => {
      const superseded = await versions.createVersion(version, [], false, {
        quota: { used: 0, limit: Number.MAX_SAFE_INTEGER },
        maxOpenPerUser: 1000,
      });
      assert.equal(superseded.length, 1);
    });
  });

  it('takes unpublished events (the outbox relay) on outbox_events_unpublished_id_idx', async () => {
    await assertScansOn('outbox_events_unpublished_id_idx', async () => {
      assert.equal(await outbox.relayBatch(BATCH, () => Promise.resolve()), DUE);
    });
  });

  it('completes a version: its file, its history and its event by primary keys (markCompleted)', async () => {
    const parent = parents.pop()!;
    const version = {
      ...newUploadFile({ ownerId: parent.owner_id, containerId: parent.container_id, revisionId: '1.10' }),
      revisionOf: parent.id,
    };
    await versions.createVersion(version, [], false, { quota: null, maxOpenPerUser: null });
    await db.query(`UPDATE files SET revision_id = '1.0' WHERE id = $1`, [parent.id]);
    await db.query(`UPDATE files SET status = 'COMPLETING', claim = 1 WHERE id = $1`, [version.id]);
    await assertScansOn('files_pkey', async () => {
      const trace = { traceId: undefined, xTraceid: null };
      assert.equal(
        await completions.markCompleted(version.id, 1, { sha256: 'a'.repeat(64), by: 'hash_chain' }, trace),
        true,
      );
    });
    const { rows } = await db.query<{ revision_id: string }>('SELECT revision_id FROM files WHERE id = $1', [
      parent.id,
    ]);
    assert.equal(rows[0]?.revision_id, '1.10');
  });
});

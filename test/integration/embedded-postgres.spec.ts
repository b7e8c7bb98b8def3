// The database the service runs on when DATABASE_URL is unset: PGlite behind pglite-socket, migrated
// at start, reached through the same PrismaService and repositories as a real server, with one
// connection that everything queues for.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@koodrive/config';
import { newUploadFile, claimNumber } from '../support/factories.ts';
import { prismaSources } from '@koodrive/migrations';
import {
  CompletionRepository,
  type EmbeddedPostgres,
  type NewUploadFile,
  OutboxRepository,
  PrismaService,
  startEmbeddedPostgres,
  UploadTaskRepository,
} from '@koodrive/database';

const config = loadConfig(process.env);
const NO_TRACE = { traceId: undefined, xTraceid: null };
const SHA = 'e'.repeat(64);

// The embedded database started over `dataDir`, and a client on it the way DatabaseModule makes one.
async function start(dataDir: string): Promise<{ embedded: EmbeddedPostgres; prisma: PrismaService; ms: number }> {
  const started = performance.now();
  const embedded = await startEmbeddedPostgres({ dataDir, ...prismaSources() });
  const prisma = new PrismaService(config, { url: embedded.url, poolSize: 1, idleTimeoutMillis: 0 });
  await prisma.$queryRaw`SELECT 1`;
  return { embedded, prisma, ms: Math.round(performance.now() - started) };
}

describe('embedded PostgreSQL (PGlite)', () => {
  let dataDir: string;
  let current: { embedded: EmbeddedPostgres; prisma: PrismaService } | undefined;
  let tasks: UploadTaskRepository;
  let completions: CompletionRepository;
  let completed: NewUploadFile;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'koodrive-embedded-'));
  });

  after(async () => {
    await current?.prisma.close();
    await current?.embedded.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('applies every migration of prisma/migrations on its first start', async (t) => {
    const { embedded, prisma, ms } = await start(dataDir);
    current = { embedded, prisma };
    tasks = new UploadTaskRepository(prisma);
    completions = new CompletionRepository(prisma);
    t.diagnostic(`first start (initdb and migrations) to ready: ${ms} ms`);
    assert.equal(embedded.dataDir, path.join(dataDir, 'pg'));
    const folders = (await readdir(prismaSources().migrationsDir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    assert.ok(folders.length > 0);
    assert.deepEqual(embedded.appliedMigrations, folders);
    const rows = await prisma.$queryRaw<{ migration_name: string; finished_at: Date | null }[]>`
      SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name`;
    assert.deepEqual(
      rows.map((row) => row.migration_name),
      folders,
    );
    assert.ok(rows.every((row) => row.finished_at !== null));
  });

  it('listens only on a unix socket in a directory no other user may enter, never on TCP', async () => {
    const { embedded } = current!;
    const url = new URL(embedded.url);
    const socketDir = url.searchParams.get('host')!;
    assert.ok(path.isAbsolute(socketDir), embedded.url);
    // owner only: rwx------
    assert.equal((await stat(socketDir)).mode & 0o777, 0o700);
    assert.ok((await stat(path.join(socketDir, '.s.PGSQL.5432'))).isSocket());
    // the URL names no TCP port: the service reaches it through the socket only
    assert.equal(url.port, '');
  });

  it('serves the repository: a completion writes its outbox event', async () => {
    completed = newUploadFile();
    await tasks.createUpload(completed);
    const claim = await claimNumber(completions, completed.id, completed.ownerId, 30, SHA, 'trace-1');
    assert.equal(claim, 1);
    assert.equal(
      await completions.markCompleted(
        completed.id,
        claim,
        { sha256: SHA, by: 'pipelined' },
        { traceId: 'a'.repeat(32), xTraceid: 'trace-1' },
      ),
      true,
    );
    assert.equal((await tasks.findForOwner(completed.id, completed.ownerId))?.status, 'COMPLETED');
    const events = await current!.prisma.outboxEvent.findMany({ where: { fileId: completed.id } });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'file.completed');
    assert.equal(events[0]!.xTraceid, 'trace-1');
  });

  it(
    'queues concurrent statements and transactions on its one connection without deadlock',
    { timeout: 60_000 },
    async (t) => {
      const { prisma } = current!;
      const opened = Array.from({ length: 10 }, () => newUploadFile());
      await Promise.all(opened.map((file) => tasks.createUpload(file)));
      const started = performance.now();
      // 20 at once: 10 claim-then-complete (a statement, then an interactive transaction) and 10
      // uploads created (a transaction each)
      const results = await Promise.all([
        ...opened.map(async (file) => {
          const claim = await claimNumber(completions, file.id, file.ownerId, 30, null, null);
          assert.equal(claim, 1);
          return completions.markCompleted(file.id, claim, { sha256: SHA, by: 'pipelined' }, NO_TRACE);
        }),
        ...Array.from({ length: 10 }, () => tasks.createUpload(newUploadFile()).then(() => true)),
      ]);
      t.diagnostic(`20 concurrent calls: ${Math.round(performance.now() - started)} ms`);
      assert.ok(results.every((ok) => ok));
      assert.equal(await prisma.outboxEvent.count({ where: { fileId: { in: opened.map((f) => f.id) } } }), 10);

      // 20 claims of one file at once: exactly one wins
      const contested = newUploadFile();
      await tasks.createUpload(contested);
      const claims = await Promise.all(
        Array.from({ length: 20 }, () => claimNumber(completions, contested.id, contested.ownerId, 30, null, null)),
      );
      assert.deepEqual(
        claims.filter((c) => c !== null),
        [1],
      );

      // an open transaction holds the connection: a statement issued meanwhile waits for its commit
      let committedAt = 0;
      const transaction = prisma.$transaction(async (tx) => {
        await tx.file.count();
        await sleep(300);
        await tx.file.count();
        committedAt = performance.now();
      });
      await sleep(50);
      await tasks.findForOwner(contested.id, contested.ownerId);
      const answeredAt = performance.now();
      await transaction;
      assert.ok(answeredAt >= committedAt, 'the statement was answered after the transaction ended');

      // the outbox relay's transaction spans its publish (Redis, here a pause); other work waits, then runs
      const relayed = new OutboxRepository(prisma).relayBatch(1000, () => sleep(200));
      const [count] = await Promise.all([relayed, tasks.findForOwner(completed.id, completed.ownerId)]);
      assert.ok(count >= 11);
    },
  );

  it('keeps its data across a stop and start, and applies nothing on the second start', async (t) => {
    await current!.prisma.close();
    await current!.embedded.stop();
    current = undefined;
    const { embedded, prisma, ms } = await start(dataDir);
    current = { embedded, prisma };
    tasks = new UploadTaskRepository(prisma);
    completions = new CompletionRepository(prisma);
    t.diagnostic(`restart to ready: ${ms} ms`);
    assert.deepEqual(embedded.appliedMigrations, []);
    const file = await tasks.findForOwner(completed.id, completed.ownerId);
    assert.equal(file?.status, 'COMPLETED');
    assert.equal(file?.actualSha256, SHA);
    assert.equal(await prisma.outboxEvent.count({ where: { fileId: completed.id } }), 1);
    // and it still writes
    const another = newUploadFile();
    await tasks.createUpload(another);
    assert.equal(await tasks.isNameTaken(another.containerId, 'root', another.fileName), true);
  });
});

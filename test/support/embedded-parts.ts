// The service's embedded parts for the unit specs of its service classes: a PGlite (migrated at
// start) that each suite finds with empty tables, a local-disk object store of the suite's own, the
// repositories on them, all in temp dirs removed after; and the small factories the specs build
// their test data with.
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before } from 'node:test';
import { Logger } from '@nestjs/common';
import type { Principal } from '@koodrive/auth';
import { type AppConfig, loadConfig } from '@koodrive/config';
import {
  CompletionRepository,
  type EmbeddedPostgres,
  MaintenanceRepository,
  type NewUploadFile,
  OutboxRepository,
  type PartPlan,
  PartPutRepository,
  PrismaService,
  startEmbeddedPostgres,
  type UploadedPartHash,
  type UploadFile,
  UploadTaskRepository,
} from '@koodrive/database';
import { type ApiCode, ApiException, DependencyUnavailableError } from '@koodrive/errors';
import { prismaSources } from '@koodrive/migrations';
import { DiskObjectStorage, type PartBody, partBodyOf, type StoredPart, UploadNotFoundError } from '@koodrive/storage';
import { UPLOAD_TOKEN_METADATA } from '../../apps/upload/src/files/file-id.ts';
import type { PartUrl, PartUrlList } from '../../apps/upload/src/files/part-urls.ts';
import { SerializedJson } from '../../apps/upload/src/http/large-answers.ts';
import { newUploadFile } from './factories.ts';

// Lines the services log at `log` level (the reaper's report) would only clutter the test output.
Logger.overrideLogger(['fatal', 'error', 'warn']);

export const PART_URL_SECRET = 'unit-spec-part-url-secret-0123456789abcdef';

// The configuration as loadConfig makes it from these variables alone (never process.env).
export function testConfig(env: Readonly<Record<string, string>> = {}): AppConfig {
  return loadConfig({ NODE_ENV: 'test', OTEL_SDK_DISABLED: 'true', PART_URL_SECRET, ...env });
}

type HookedCall = 'uploadPart' | 'listParts' | 'completeMultipartUpload' | 'abortMultipartUpload';

// The local-disk store, with a hook a test can run as one call starts, before the real call: to
// fail that call the way a dependency fails (its error is the call's), or to act at that very
// moment (a part uploaded again, a claim taken over, a signal that the call has begun). It also
// remembers the multipart uploads it created, so a spec can check what became of them.
export class HookedDiskStorage extends DiskObjectStorage {
  readonly created: { readonly key: string; readonly uploadId: string }[] = [];
  private readonly hooks = new Map<HookedCall, (() => unknown)[]>();

  // `hook` runs once, as the next `call` starts (hooks of one call run in the order given).
  beforeNext(call: HookedCall, hook: () => unknown): void {
    this.hooks.set(call, [...(this.hooks.get(call) ?? []), hook]);
  }

  // The next `call` fails as storage does when it cannot be reached.
  failNext(call: HookedCall): void {
    this.beforeNext(call, () => {
      throw new DependencyUnavailableError('storage', new Error(`${call} failed (injected)`));
    });
  }

  // Resolves as the next `call` starts.
  nextStart(call: HookedCall): Promise<void> {
    return new Promise((resolve) => this.beforeNext(call, resolve));
  }

  override async createMultipartUpload(key: string, metadata: Readonly<Record<string, string>>): Promise<string> {
    const uploadId = await super.createMultipartUpload(key, metadata);
    this.created.push({ key, uploadId });
    return uploadId;
  }

  override async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: PartBody,
    size: number,
    signal?: AbortSignal,
  ): Promise<string> {
    await this.enter('uploadPart');
    return super.uploadPart(key, uploadId, partNumber, body, size, signal);
  }

  override async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    await this.enter('listParts');
    return super.listParts(key, uploadId);
  }

  override async completeMultipartUpload(key: string, uploadId: string, parts: readonly StoredPart[]): Promise<void> {
    await this.enter('completeMultipartUpload');
    return super.completeMultipartUpload(key, uploadId, parts);
  }

  override async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.enter('abortMultipartUpload');
    return super.abortMultipartUpload(key, uploadId);
  }

  private async enter(call: HookedCall): Promise<void> {
    const hook = this.hooks.get(call)?.shift();
    await hook?.();
  }
}

// The embedded database started over `dataDir` and migrated.
function startDatabase(dataDir: string): Promise<EmbeddedPostgres> {
  return startEmbeddedPostgres({ dataDir, ...prismaSources() });
}

// PGlite's initdb and the migrations are most of a start (seconds each on a busy 2-core machine):
// they run once into a template under the system's temporary directory, named after PGlite's
// version and the migrations, which every spec file copies. A template is renamed into place
// whole, so one that exists is complete; another process building it at the same time keeps its own.
async function migratedTemplate(): Promise<string> {
  const sources = prismaSources();
  const key = createHash('sha256');
  key.update(await readFile(new URL('../package.json', import.meta.resolve('@electric-sql/pglite'))));
  for (const name of (await readdir(sources.migrationsDir)).sort()) {
    const sql = path.join(sources.migrationsDir, name, 'migration.sql');
    key.update(name).update(await readFile(sql).catch(() => Buffer.alloc(0)));
  }
  const template = path.join(tmpdir(), `koodrive-unit-pg-${key.digest('hex').slice(0, 16)}`);
  if (await exists(template)) {
    return template;
  }
  const building = await mkdtemp(path.join(tmpdir(), 'koodrive-unit-pg-building-'));
  try {
    const embedded = await startDatabase(building);
    await embedded.stop();
    await rename(building, template);
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    // built meanwhile by another process: theirs serves as well
    if (!(await exists(template))) {
      throw error;
    }
  }
  return template;
}

function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export interface EmbeddedParts {
  readonly config: AppConfig;
  readonly prisma: PrismaService;
  // the store the services under test are given
  readonly storage: HookedDiskStorage;
  // the same store, without hooks: what the specs set up and check with
  readonly disk: DiskObjectStorage;
  readonly tasks: UploadTaskRepository;
  readonly completions: CompletionRepository;
  readonly puts: PartPutRepository;
  readonly maintenance: MaintenanceRepository;
  readonly outbox: OutboxRepository;
}

// The embedded database of this process. `npm run test:unit` runs every spec file in one process:
// the files that use it one after another share one start (seconds each on a busy machine), and
// it stops, removing its directory, once no suite has used it for a moment.
interface SharedDatabase {
  readonly dir: string;
  readonly embedded: EmbeddedPostgres;
}
let database: Promise<SharedDatabase> | undefined;
let idleStop: NodeJS.Timeout | undefined;
const IDLE_STOP_MS = 200;

async function startSharedDatabase(): Promise<SharedDatabase> {
  const dir = await mkdtemp(path.join(tmpdir(), 'koodrive-unit-'));
  try {
    await cp(path.join(await migratedTemplate(), 'pg'), path.join(dir, 'pg'), { recursive: true });
    // still checks the migrations (and applies any the template lacks)
    return { dir, embedded: await startDatabase(dir) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function acquireDatabase(): Promise<SharedDatabase> {
  clearTimeout(idleStop);
  database ??= startSharedDatabase();
  return database;
}

function releaseDatabase(): void {
  const releasing = database;
  idleStop = setTimeout(() => {
    database = undefined;
    // a start that failed has nothing to stop (the suites that waited on it failed with its error)
    void releasing?.then(
      async ({ dir, embedded }) => {
        await embedded.stop();
        await rm(dir, { recursive: true, force: true });
      },
      () => undefined,
    );
  }, IDLE_STOP_MS);
}

// Empties the application's tables (a suite starts as on a new database; ids count from 1 again).
async function emptyTables(prisma: PrismaService): Promise<void> {
  const tables = await prisma.$queryRaw<{ name: string }[]>`
    SELECT quote_ident(tablename) AS name FROM pg_tables
    WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`;
  if (tables.length > 0) {
    await prisma.$executeRawUnsafe(`TRUNCATE ${tables.map((t) => t.name).join(', ')} RESTART IDENTITY CASCADE`);
  }
}

// Starts the embedded parts before the suite's tests and removes them after; `env` is the
// configuration's (see testConfig). Call inside describe; the answer gives the parts in tests.
export function useEmbeddedParts(env: Readonly<Record<string, string>> = {}): () => EmbeddedParts {
  let objects: string | undefined;
  let parts: EmbeddedParts | undefined;
  before(async () => {
    const { embedded } = await acquireDatabase();
    objects = await mkdtemp(path.join(tmpdir(), 'koodrive-unit-objects-'));
    const config = testConfig(env);
    // PGlite serves one connection: everything queues for it, as in the embedded service
    const prisma = new PrismaService(config, { url: embedded.url, poolSize: 1, idleTimeoutMillis: 0 });
    await emptyTables(prisma);
    const disk = await DiskObjectStorage.open(objects);
    parts = {
      config,
      prisma,
      storage: new HookedDiskStorage(disk.root),
      disk,
      tasks: new UploadTaskRepository(prisma),
      completions: new CompletionRepository(prisma),
      puts: new PartPutRepository(prisma),
      maintenance: new MaintenanceRepository(prisma),
      outbox: new OutboxRepository(prisma),
    };
  });
  after(async () => {
    await parts?.prisma.close();
    releaseDatabase();
    if (objects !== undefined) {
      await rm(objects, { recursive: true, force: true });
    }
  });
  return () => {
    if (parts === undefined) {
      throw new Error('the embedded parts are not started (useEmbeddedParts runs in before)');
    }
    return parts;
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// `length` deterministic bytes that never repeat a pattern, different for each seed (a keystream:
// cheap in bulk, and any 8 of them at one offset differ from those at another).
export function bytesOf(length: number, seed = 1): Buffer {
  const key = createHash('sha256').update(`bytes-${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

// A caller acting in its own space.
export function principalFor(overrides: Partial<Principal> = {}): Principal {
  return {
    userId: `u-${randomUUID()}`,
    containerId: `c-${randomUUID()}`,
    shareFolderId: null,
    proofSeedSource: `Bearer ${randomUUID()}`,
    ...overrides,
  };
}

export interface OpenUpload {
  readonly file: NewUploadFile;
  readonly uploadId: string;
}

// An upload task as create leaves it: its multipart upload in the store (under the task's token)
// and its row, with the part plans given (`viaService`: their URLs pointed at the service).
export async function openUpload(
  parts: EmbeddedParts,
  overrides: Partial<NewUploadFile> = {},
  plans: readonly PartPlan[] = [],
  viaService = true,
): Promise<OpenUpload> {
  const draft = newUploadFile({ uploadToken: randomUUID(), ...overrides });
  const uploadId = await parts.disk.createMultipartUpload(draft.storageKey, {
    [UPLOAD_TOKEN_METADATA]: draft.uploadToken,
  });
  const file = { ...draft, uploadId };
  await parts.tasks.createUpload(file, plans, viaService);
  return { file, uploadId };
}

// Puts `bytes` into part `partNumber` of the upload, straight into the store; answers its ETag.
export function storePart(
  parts: EmbeddedParts,
  upload: OpenUpload,
  partNumber: number,
  bytes: Buffer,
): Promise<string> {
  return parts.disk.uploadPart(
    upload.file.storageKey,
    upload.uploadId,
    partNumber,
    partBodyOf(Readable.from([bytes]), bytes.length),
    bytes.length,
  );
}

// An object at `key` made the way the store makes every object: a multipart upload, combined.
export async function putObject(
  parts: EmbeddedParts,
  key: string,
  metadata: Readonly<Record<string, string>>,
  bytes: Buffer,
): Promise<void> {
  const uploadId = await parts.disk.createMultipartUpload(key, metadata);
  const etag = await parts.disk.uploadPart(
    key,
    uploadId,
    1,
    partBodyOf(Readable.from([bytes]), bytes.length),
    bytes.length,
  );
  await parts.disk.completeMultipartUpload(key, uploadId, [{ partNumber: 1, size: bytes.length, etag }]);
}

// Records what a PUT through the service hashed of the part (its put lease taken and released).
export async function recordPartHash(
  parts: EmbeddedParts,
  fileId: string,
  partNumber: number,
  hash: UploadedPartHash,
): Promise<void> {
  const put = await parts.puts.beginPartPut(fileId, partNumber, hash.size, 30);
  if (typeof put === 'string' || 'wrongSize' in put) {
    throw new Error(`part ${partNumber} of ${fileId} could not take its put lease: ${JSON.stringify(put)}`);
  }
  if (!(await parts.puts.recordPartPut(fileId, partNumber, put.seq, hash))) {
    throw new Error(`part ${partNumber} of ${fileId}: the PUT could not be recorded`);
  }
}

// The completion claim a complete request takes (lease in seconds; the digest it must reach),
// and the file as the claimant then holds it.
export async function claimed(
  parts: EmbeddedParts,
  file: NewUploadFile,
  options: { readonly expectedSha256?: string; readonly leaseSeconds?: number; readonly xTraceid?: string } = {},
): Promise<UploadFile> {
  const claim = await parts.completions.claimForCompletion(
    file.id,
    { userId: file.ownerId, shareFolderId: file.shareFolderId ?? null },
    options.leaseSeconds ?? 60,
    options.expectedSha256 ?? null,
    options.xTraceid ?? null,
  );
  if (claim === null) {
    throw new Error(`file ${file.id} could not be claimed`);
  }
  return claim;
}

// As if the claim's worker stopped renewing its lease a minute ago (crashed, partitioned).
export async function lapseLease(parts: EmbeddedParts, fileId: string): Promise<void> {
  await parts.prisma.file.update({ where: { id: fileId }, data: { claimExpiresAt: new Date(Date.now() - 60_000) } });
}

export async function findFile(parts: EmbeddedParts, fileId: string): Promise<UploadFile> {
  const row = await parts.prisma.file.findUniqueOrThrow({ where: { id: fileId }, select: { ownerId: true } });
  const file = await parts.tasks.findForOwner(fileId, row.ownerId);
  if (file === null) {
    throw new Error(`file ${fileId} is gone`);
  }
  return file;
}

// A completed file holding `bytes` in the store (combined, read back), as a finished upload leaves it.
export async function completedFile(
  parts: EmbeddedParts,
  bytes: Buffer,
  overrides: Partial<NewUploadFile> = {},
): Promise<UploadFile> {
  const upload = await openUpload(parts, { length: bytes.length, ...overrides });
  const etag = await storePart(parts, upload, 1, bytes);
  await parts.disk.completeMultipartUpload(upload.file.storageKey, upload.uploadId, [
    { partNumber: 1, size: bytes.length, etag },
  ]);
  const file = await claimed(parts, upload.file);
  await parts.completions.markCombined(file.id, file.claim);
  const sha256 = sha256Hex(bytes);
  if (
    !(await parts.completions.markCompleted(
      file.id,
      file.claim,
      { sha256, by: 'pipelined' },
      { traceId: undefined, xTraceid: null },
    ))
  ) {
    throw new Error(`file ${file.id} could not be completed`);
  }
  return findFile(parts, file.id);
}

// Whether the store still has the multipart upload open.
export async function uploadIsOpen(parts: EmbeddedParts, key: string, uploadId: string): Promise<boolean> {
  try {
    await parts.disk.listParts(key, uploadId);
    return true;
  } catch (error) {
    if (error instanceof UploadNotFoundError) {
      return false;
    }
    throw error;
  }
}

// The ApiException `work` fails with, once checked to carry `code`.
export async function rejectsWithCode(work: Promise<unknown>, code: ApiCode): Promise<ApiException> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof ApiException, `expected ApiException ${code}, got ${String(error)}`);
    assert.equal(error.code, code, `expected code ${code}, got ${error.code} (${error.message})`);
    return error;
  }
  assert.fail(`expected ApiException ${code}, but it succeeded`);
}

// A create's or uploadUrl's part URLs as a list, a long one (serialized as it was signed) parsed back.
export function partUrlsOf(list: PartUrlList): readonly PartUrl[] {
  return list instanceof SerializedJson ? (JSON.parse(Buffer.concat(list.chunks).toString('utf8')) as PartUrl[]) : list;
}

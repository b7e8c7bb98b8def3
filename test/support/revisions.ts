// New versions of a file (createRevision, completeRevision) as a KooDrive client sends them, and the
// two stacks the revision specs run on, each with the test's own way to look behind the service's
// back: the real one (the tests' PostgreSQL, its own S3 client on RGW) and the embedded one
// (PGlite through the running service's socket, the local-disk store read as files).
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { Sha256State } from '@koodrive/hashing';
import {
  apiCall,
  type ApiResponse,
  call,
  type CallOptions,
  closeTestDb,
  closeTestRedis,
  newUser,
  putPart,
  sha256Hex,
  type TestUser,
} from './harness.ts';
import { testS3 } from './s3.ts';
import { ServiceProcess } from './service-process.ts';

// POST /koodrive/ose/v1/revision/<route>, as `call` does for files/.
export function revisionCall(
  baseUrl: string,
  route: 'createRevision' | 'completeRevision',
  body: unknown,
  options: CallOptions = {},
): Promise<ApiResponse> {
  return apiCall(baseUrl, `revision/${route}`, body, options);
}

// Every part of `data` cut at `partSize`, as a parallel-mode KooDrive client lists them: part 1
// without hashCtx, the others with the state words before them (KooDrive's array) and their offset.
export function parallelParts(data: Buffer, partSize: number): object[] {
  const parts: object[] = [];
  const hash = Sha256State.initial();
  for (let offset = 0, partNumber = 1; offset < data.length || partNumber === 1; offset += partSize, partNumber++) {
    const size = Math.min(partSize, data.length - offset);
    parts.push({
      partNumber,
      partSize: size,
      partOffset: offset,
      ...(partNumber === 1 ? {} : { hashCtx: hash.state().h }),
    });
    hash.update(data.subarray(offset, offset + size));
  }
  return parts;
}

export interface PartAnswer {
  readonly partNumber: number;
  readonly partOffset: number;
  readonly partSize: number;
  readonly uploadUrl: string;
  readonly partId: string;
}

// PUTs each part's bytes of `data` to its URL.
export async function putParts(data: Buffer, parts: readonly PartAnswer[]): Promise<void> {
  for (const part of parts) {
    await putPart(part.uploadUrl, data.subarray(part.partOffset, part.partOffset + part.partSize));
  }
}

// A part PUT that a refusing service answers before reading its body (it then closes the
// connection): its headers go first, and its bytes only if no answer came within 2 s.
export function answerToPut(url: string, bytes: Buffer): Promise<{ status: number; code: number }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const put = request(url, { method: 'PUT', headers: { 'content-length': bytes.length } }, (response) => {
      answered = true;
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        put.destroy();
        try {
          resolve({ status: response.statusCode ?? 0, code: (JSON.parse(text) as { code: number }).code });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    put.on('error', (error: Error) => {
      if (!answered) {
        reject(error);
      }
    });
    put.flushHeaders();
    setTimeout(() => {
      if (!answered) {
        put.end(bytes);
      }
    }, 2_000).unref();
  });
}

export interface VersionOptions {
  readonly via?: 's3' | 'service';
  readonly sha256?: string;
  readonly keepPolicy?: number;
  readonly partSize?: number;
  readonly headers?: Record<string, string>;
  // the parts' URLs from uploadUrl with the file's id (else from createRevision's multiParts)
  readonly urlsFromUploadUrl?: boolean;
}

export interface StartedVersion {
  readonly revisionId: string;
  readonly created: ApiResponse['body'];
  readonly parts: PartAnswer[];
}

// createRevision for `fileId` with its parts planned (parallel mode), then the parts PUT.
export async function uploadVersion(
  baseUrl: string,
  user: TestUser,
  file: { readonly fileId: string; readonly containerId: string },
  data: Buffer,
  options: VersionOptions = {},
): Promise<StartedVersion> {
  const multiParts = parallelParts(data, options.partSize ?? 5 * 1024 * 1024);
  const created = await revisionCall(
    baseUrl,
    'createRevision',
    {
      fileId: file.fileId,
      containerId: file.containerId,
      length: data.length,
      ...(options.sha256 === undefined ? {} : { sha256: options.sha256 }),
      ...(options.keepPolicy === undefined ? {} : { keepPolicy: options.keepPolicy }),
      ...(options.via === undefined ? {} : { uploadVia: options.via }),
      ...(options.urlsFromUploadUrl === true ? {} : { multiParts }),
    },
    { token: user.token, headers: options.headers },
  );
  assert.equal(created.body.code, 0, `createRevision: ${JSON.stringify(created.body)}`);
  let parts = created.body.multiParts as PartAnswer[];
  if (options.urlsFromUploadUrl === true) {
    const urls = await call(
      baseUrl,
      'multipart/uploadUrl',
      { fileId: file.fileId, multiParts, ...(options.via === undefined ? {} : { uploadVia: options.via }) },
      { token: user.token, headers: options.headers },
    );
    assert.equal(urls.body.code, 0, `uploadUrl: ${JSON.stringify(urls.body)}`);
    parts = urls.body.multiParts as PartAnswer[];
  }
  await putParts(data, parts);
  return { revisionId: created.body.revisionId as string, created: created.body, parts };
}

// A file uploaded and completed (its first version): its id and container.
export async function completedFile(
  baseUrl: string,
  user: TestUser,
  data: Buffer,
  headers: Record<string, string> = {},
): Promise<{ fileId: string; containerId: string }> {
  const created = await call(
    baseUrl,
    'create',
    { fileName: `r-${randomUUID()}.bin`, length: data.length, multiParts: parallelParts(data, 5 * 1024 * 1024) },
    { token: user.token, headers },
  );
  assert.equal(created.body.code, 0, JSON.stringify(created.body));
  await putParts(data, created.body.multiParts as PartAnswer[]);
  const fileId = created.body.fileId as string;
  const completed = await call(
    baseUrl,
    'complete',
    { fileId, sha256: sha256Hex(data) },
    { token: user.token, headers },
  );
  assert.equal(completed.body.code, 0, JSON.stringify(completed.body));
  return { fileId, containerId: created.body.containerId as string };
}

export function sha256Of(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// A statement's value written into its text, for the embedded database's socket (one simple-query
// message: nothing to interleave with the service's own extended-protocol messages).
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

// One stack the revision specs run on.
export interface RevisionStack {
  readonly name: string;
  // where parts can go: straight to S3 only on the real stack (the local-disk store cannot presign)
  readonly vias: readonly ('s3' | 'service')[];
  // the service in a process of its own, with `env` on top of the stack's; the same user across restarts
  start(env?: Record<string, string>): Promise<ServiceProcess>;
  user(): Promise<TestUser>;
  // rows of a statement on the stack's database (values written into it with `literal`)
  rows<R>(statement: string): Promise<R[]>;
  // rows of a statement while the service is stopped (the embedded database is the service's own)
  rowsStopped<R>(statement: string): Promise<R[]>;
  // the stored object's bytes, read behind the service's back (null: no such object)
  stored(key: string): Promise<Buffer | null>;
  // whether storage still has the multipart upload
  uploadExists(key: string, uploadId: string): Promise<boolean>;
  cleanUp(): Promise<void>;
}

const EMBEDDED_UNSET = ['DATABASE_URL', 'REDIS_URL', 'S3_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SDK_DISABLED'];
const REAL_ENV = { PART_URL_SECRET: 'a-test-secret-of-at-least-32-chars!!', LOG_LEVEL: 'warn' };

async function s3Body(key: string): Promise<Buffer | null> {
  const s3 = testS3();
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: process.env.S3_BUCKET!, Key: key }));
    const chunks: Buffer[] = [];
    for await (const chunk of object.Body as Readable) {
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') {
      return null;
    }
    throw error;
  } finally {
    s3.destroy();
  }
}

function realStack(): RevisionStack {
  let db: pg.Client | undefined;
  const rows = async <R>(statement: string): Promise<R[]> => {
    if (db === undefined) {
      db = new pg.Client({ connectionString: process.env.DIRECT_DATABASE_URL ?? process.env.DATABASE_URL });
      await db.connect();
    }
    return (await db.query(statement)).rows as R[];
  };
  let user: TestUser | undefined;
  return {
    name: 'real (PostgreSQL, Redis, Ceph RGW)',
    vias: ['s3', 'service'],
    start: (env = {}) => ServiceProcess.start({ ...REAL_ENV, ...env }),
    user: async () => (user ??= await newUser()),
    rows,
    rowsStopped: rows,
    stored: s3Body,
    uploadExists: async (key, uploadId) => {
      const s3 = testS3();
      try {
        await s3.send(new ListPartsCommand({ Bucket: process.env.S3_BUCKET!, Key: key, UploadId: uploadId }));
        return true;
      } catch (error) {
        if (['NoSuchUpload', 'NoSuchKey'].includes((error as Error).name)) {
          return false;
        }
        throw error;
      } finally {
        s3.destroy();
      }
    },
    cleanUp: async () => {
      await db?.end();
      await closeTestRedis();
      await closeTestDb();
    },
  };
}

async function embeddedStack(): Promise<RevisionStack> {
  const dir = await mkdtemp(path.join(tmpdir(), 'koodrive-revisions-'));
  const token = `revisions-${randomUUID()}`;
  const objects = path.join(dir, 'objects');
  return {
    name: 'embedded (PGlite, local disk, in process)',
    vias: ['service'],
    start: (env = {}) =>
      ServiceProcess.start({ DATA_DIR: dir, DEMO_TOKEN: token, LOG_LEVEL: 'warn', ...env }, EMBEDDED_UNSET),
    user: () => Promise.resolve({ userId: 'demo', containerId: 'demo', token }),
    // through the running service's PGlite socket (<DATA_DIR>/run)
    rows: async <R>(statement: string): Promise<R[]> => {
      const client = new pg.Client({ host: path.join(dir, 'run'), user: 'postgres', database: 'postgres' });
      await client.connect();
      try {
        return (await client.query(statement)).rows as R[];
      } finally {
        await client.end();
      }
    },
    rowsStopped: async <R>(statement: string): Promise<R[]> => {
      const db = await PGlite.create({ dataDir: path.join(dir, 'pg') });
      try {
        return (await db.query<R>(statement)).rows;
      } finally {
        await db.close();
      }
    },
    stored: async (key) => {
      try {
        return await readFile(path.join(objects, ...key.split('/')));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          return null;
        }
        throw error;
      }
    },
    uploadExists: async (_key, uploadId) =>
      stat(path.join(objects, '.uploads', uploadId)).then(
        () => true,
        () => false,
      ),
    cleanUp: () => rm(dir, { recursive: true, force: true }),
  };
}

export async function revisionStacks(): Promise<RevisionStack[]> {
  return [realStack(), await embeddedStack()];
}

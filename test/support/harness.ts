// An app on a real port, tokens in the real Redis, and a small KooDrive client over fetch.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { loadConfig } from '@koodrive/config';
import { PrismaService } from '@koodrive/database';
import { SESSION_TTL_SECONDS, UPLOAD_SCOPE, sessionKey } from '@koodrive/protocol';
import { encodeHashCtx, Sha256State } from '@koodrive/hashing';

export interface TestApp {
  readonly app: NestFastifyApplication;
  readonly baseUrl: string;
  // GET /metrics: the app's own listener (METRICS_PORT, a free port under test), not baseUrl's
  readonly metricsUrl: string;
  close(): Promise<void>;
}

// The services as the tests themselves reach them, whatever a spec points its app at.
const live = { databaseUrl: process.env.DATABASE_URL!, redisUrl: process.env.REDIS_URL! };

// The app module is imported lazily so a spec can set up tracing (or the environment) first.
// `env` is what this app sees on top of the test environment (the configuration is read once,
// when the first app of the spec's process starts).
export async function startApp(env: Readonly<Record<string, string>> = {}): Promise<TestApp> {
  const { createApp } = await import('../../apps/upload/src/bootstrap.ts');
  const { MetricsServer } = await import('../../apps/upload/src/health/metrics-server.ts');
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let app;
  try {
    app = await createApp();
  } finally {
    process.env = saved;
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') {
    throw new Error('no listening address');
  }
  return {
    app,
    baseUrl: `http://127.0.0.1:${address.port}`,
    metricsUrl: app.get(MetricsServer).url,
    close: () => app.close(),
  };
}

// Starts the app before the suite's tests and closes it (and the test Redis client) after them;
// `app()` is the running app inside tests.
export function useTestApp(env: Readonly<Record<string, string>> = {}): () => TestApp {
  let running: TestApp | undefined;
  before(async () => {
    running = await startApp(env);
  });
  after(async () => {
    await running?.close();
    await closeTestRedis();
    await closeTestDb();
  });
  return () => {
    if (running === undefined) {
      throw new Error('the test app is not running');
    }
    return running;
  };
}

let redis: Redis | undefined;

export function testRedis(): Redis {
  redis ??= new Redis(live.redisUrl);
  return redis;
}

export async function closeTestRedis(): Promise<void> {
  await redis?.quit();
  redis = undefined;
}

export interface TestUser {
  readonly userId: string;
  readonly containerId: string;
  readonly token: string;
}

// A user with a session in Redis, as KooDrive's session service would write it.
// `record`: more of the session record (sharedFolders).
export async function newUser(
  scopes: readonly string[] = [UPLOAD_SCOPE],
  redis = testRedis(),
  record: Readonly<Record<string, unknown>> = {},
): Promise<TestUser> {
  const user = {
    userId: `u-${randomUUID()}`,
    containerId: `c-${randomUUID()}`,
    token: randomBytes(24).toString('hex'),
  };
  await redis.set(
    sessionKey(user.token),
    JSON.stringify({ userId: user.userId, containerId: user.containerId, scopes, ...record }),
    'EX',
    SESSION_TTL_SECONDS,
  );
  return user;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown> & { code: number; msg: string };
}

export interface CallOptions {
  readonly token?: string;
  readonly headers?: Record<string, string>;
  // sent as is (not JSON-encoded) when a string
  readonly rawBody?: string;
}

// POST /koodrive/ose/v1/files/<path>.
export function call(baseUrl: string, path: string, body: unknown, options: CallOptions = {}): Promise<ApiResponse> {
  return apiCall(baseUrl, `files/${path}`, body, options);
}

// POST /koodrive/ose/v1/<path> (files/create, revision/createRevision...).
export async function apiCall(
  baseUrl: string,
  path: string,
  body: unknown,
  options: CallOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.token !== undefined) {
    headers.authorization = `Bearer ${options.token}`;
  }
  const response = await fetch(`${baseUrl}/koodrive/ose/v1/${path}`, {
    method: 'POST',
    headers,
    body: options.rawBody ?? JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as ApiResponse['body'] };
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

// Deterministic pseudo-random bytes, cheap to make in bulk.
export function testBytes(length: number, seed = 1): Buffer {
  const block = createHash('sha256').update(`seed-${seed}`).digest();
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i += block.length) {
    block.copy(buffer, i, 0, Math.min(block.length, length - i));
    block[i % block.length] = (block[i % block.length]! + 1) & 0xff;
  }
  return buffer;
}

export async function putPart(url: string, bytes: Buffer): Promise<void> {
  const response = await fetch(url, { method: 'PUT', body: bytes });
  if (!response.ok) {
    throw new Error(`part PUT answered ${response.status}: ${await response.text()}`);
  }
}

export interface Uploaded {
  readonly fileId: string;
  readonly parts: { partNumber: number; uploadUrl: string }[];
}

export interface UploadOptions {
  readonly partSize?: number;
  readonly sha256?: string;
  readonly skipParts?: readonly number[];
  readonly fileName?: string;
  // parallel mode: each part sent with its hashCtx (the SHA-256 state before it)
  readonly parallel?: boolean;
  // where the parts go: S3 (presigned) or through the service (its own signed URLs)
  readonly uploadVia?: 's3' | 'service';
  // the parts' PUTs all at once, in reverse order (they must not depend on arriving in order)
  readonly concurrent?: boolean;
}

// The hashCtx of each part boundary of `data` cut every `partSize` bytes, as a parallel client sends it.
export function hashCtxAt(data: Buffer, partSize: number): string[] {
  const contexts: string[] = [];
  const state = Sha256State.initial();
  for (let offset = 0; offset < data.length; offset += partSize) {
    contexts.push(encodeHashCtx(state.state()));
    state.update(data.subarray(offset, Math.min(data.length, offset + partSize)));
  }
  return contexts;
}

// create + uploadUrl + PUT of the given parts (by default all of them), as a client would.
export async function upload(
  baseUrl: string,
  user: TestUser,
  data: Buffer,
  options: UploadOptions = {},
): Promise<Uploaded> {
  const created = await call(
    baseUrl,
    'create',
    { fileName: options.fileName ?? `f-${randomUUID()}.bin`, length: data.length, sha256: options.sha256 },
    { token: user.token },
  );
  if (created.body.code !== 0) {
    throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  }
  const fileId = created.body.fileId as string;
  const partSize = options.partSize ?? 5 * 1024 * 1024;
  const contexts = options.parallel === true ? hashCtxAt(data, partSize) : [];
  const multiParts = [];
  for (let offset = 0, n = 1; offset < data.length || (data.length === 0 && n === 1); offset += partSize, n++) {
    multiParts.push({
      partNumber: n,
      partSize: Math.min(partSize, data.length - offset),
      partOffset: offset,
      ...(options.parallel === true ? { hashCtx: contexts[n - 1] } : {}),
    });
  }
  const urls = await call(
    baseUrl,
    'multipart/uploadUrl',
    { fileId, multiParts, ...(options.uploadVia === undefined ? {} : { uploadVia: options.uploadVia }) },
    { token: user.token },
  );
  if (urls.body.code !== 0) {
    throw new Error(`uploadUrl failed: ${JSON.stringify(urls.body)}`);
  }
  const parts = urls.body.multiParts as {
    partNumber: number;
    partOffset: number;
    partSize: number;
    uploadUrl: string;
  }[];
  const toPut = parts.filter((part) => !options.skipParts?.includes(part.partNumber));
  const put = (part: (typeof parts)[number]) =>
    putPart(part.uploadUrl, data.subarray(part.partOffset, part.partOffset + part.partSize));
  if (options.concurrent === true) {
    await Promise.all(toPut.reverse().map(put));
  } else {
    for (const part of toPut) {
      await put(part);
    }
  }
  return { fileId, parts };
}

let db: PrismaService | undefined;

// A Prisma client on the test database, for assertions on recorded state.
export function testDb(): PrismaService {
  db ??= new PrismaService(loadConfig(process.env), { url: live.databaseUrl, poolSize: 4 });
  return db;
}

export async function closeTestDb(): Promise<void> {
  await db?.close();
  db = undefined;
}

// The file's row, read straight from the database.
export function fileRow(fileId: string) {
  return testDb().file.findUniqueOrThrow({ where: { id: fileId } });
}

export function outboxEvents(fileId: string) {
  return testDb().outboxEvent.findMany({ where: { fileId }, orderBy: { id: 'asc' } });
}

// The events stream's entries about one file, as field maps.
export async function streamEntries(fileId: string): Promise<Record<string, string>[]> {
  const entries = await testRedis().xrange(process.env.EVENTS_STREAM!, '-', '+');
  return entries
    .map(([, fields]) => {
      const entry: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) {
        entry[fields[i]!] = fields[i + 1]!;
      }
      return entry;
    })
    .filter((entry) => entry.fileId === fileId);
}

// Polls `probe` until it gives a value (a throw counts as "not yet"); fails after `timeoutMs`.
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  // between probes
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) {
      return value;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out waiting until ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

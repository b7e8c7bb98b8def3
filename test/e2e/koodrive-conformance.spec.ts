// KooDrive conformance: the requests of KooDrive's documentation (docs/api.md and the original
// complete page it cites, docs/seed/) read out of those files and sent verbatim, and their answers
// checked field by field, JSON types included; then one full upload per edition (standard: a string fileType and Bearer+;
// carrier: an integer fileType, the carrier createdTime and app authentication), and one new
// version of a file per edition (createRevision, the parts, completeRevision). The suite runs
// against the built service on the real stack (PostgreSQL, Redis, Ceph RGW) and on the embedded
// defaults (PGlite, the local-disk store, in process), as the service a KooDrive client talks to.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { formatXDate, signAppRequest } from '@koodrive/protocol';
import { closeTestDb, closeTestRedis, fileRow, sha256Hex, testBytes, testDb, testRedis } from '../support/harness.ts';
import { repositoryRoot } from '../support/repository-root.ts';
import { parallelParts } from '../support/revisions.ts';
import { ServiceProcess } from '../support/service-process.ts';
import { sessionKey } from '@koodrive/protocol';
import { MIB } from '@koodrive/limits';

const DOCS = path.join(repositoryRoot(import.meta.dirname), 'docs');

// Every JSON object docs/api.md shows (its code spans and code blocks that parse as one), as written.
async function apiExamples(): Promise<{ text: string; value: Record<string, unknown> }[]> {
  const markdown = await readFile(path.join(DOCS, 'api.md'), 'utf8');
  const snippets = [...markdown.matchAll(/```[a-z]*\n([\s\S]*?)```|`([^`\n]+)`/g)].map(
    (match) => match[1] ?? match[2]!,
  );
  return snippets.flatMap((text) => {
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null && !Array.isArray(value)
        ? [{ text, value: value as Record<string, unknown> }]
        : [];
    } catch {
      return [];
    }
  });
}

// API.md's uploadUrl example, "which must work as it stands": the part object with partNumber 46
const PART_46_EXAMPLE = (await apiExamples()).find((example) => example.value.partNumber === 46);
assert.ok(PART_46_EXAMPLE, 'docs/api.md shows the uploadUrl example of part 46');
const PART_46 = PART_46_EXAMPLE.text;
const PART_46_HASH_CTX = PART_46_EXAMPLE.value.hashCtx;

// The original complete page's (docs/seed/, cited by docs/api.md) example request and response:
// `POST <path> Authorization:<value> <body>`, then `Example Responses ... { ... }`
const SEED_PAGE = await readFile(path.join(DOCS, 'seed/checking-whether-file-upload-is-completed.txt'), 'utf8');
const seedRequest = /^POST \/koodrive\/ose\/v1\/files\/complete Authorization:(\S+) (\{.*\})$/m.exec(SEED_PAGE);
const seedResponse = /^Example Responses\n[\s\S]*?^(\{.*\})$/m.exec(SEED_PAGE);
assert.ok(seedRequest && seedResponse, "the seed page's example request and response");
// its token as printed there, and its fileId
const SEED_AUTHORIZATION = seedRequest[1]!;
const SEED_TOKEN = SEED_AUTHORIZATION.replace(/^Bearer\+/, '');
const SEED_COMPLETE_BODY = seedRequest[2]!;
const SEED_FILE_ID = (JSON.parse(SEED_COMPLETE_BODY) as { fileId: string }).fileId;
const SEED_COMPLETE_ANSWER = JSON.parse(seedResponse[1]!) as Record<string, unknown>;
const APP = { appId: 'conformance-app', secret: 'a-conformance-secret-0123456789' };
const APP_CREDENTIALS = JSON.stringify({ [APP.appId]: { secret: APP.secret, scopes: ['file.upload'] } });
const EMBEDDED_UNSET = ['DATABASE_URL', 'REDIS_URL', 'S3_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SDK_DISABLED'];

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

// One stack: the built service on it, the seed page's session, a user an app may act for, and a
// way to give a file the seed page's fileId.
interface Stack {
  readonly name: string;
  start(): Promise<ServiceProcess>;
  appUserId(): Promise<string>;
  renameFile(service: ServiceProcess, from: string, to: string): Promise<ServiceProcess>;
  // the row's stored metadata, read from the stack's database
  storedMetadata(fileId: string): Promise<{ fileType: string | null; createdTime: Date | null }>;
  cleanUp(): Promise<void>;
}

const embeddedDir = await mkdtemp(path.join(tmpdir(), 'koodrive-conformance-'));

const STACKS: Stack[] = [
  {
    name: 'real (PostgreSQL, Redis, Ceph RGW)',
    start: async () => {
      await testRedis().set(
        sessionKey(SEED_TOKEN),
        JSON.stringify({ userId: `u-${randomUUID()}`, containerId: `c-${randomUUID()}`, scopes: ['file.upload'] }),
        'EX',
        1200,
      );
      return ServiceProcess.start({
        APP_CREDENTIALS,
        PART_URL_SECRET: 'a-test-secret-of-at-least-32-chars!!',
        LOG_LEVEL: 'info',
      });
    },
    appUserId: async () => {
      const userId = `u-${randomUUID()}`;
      await testRedis().set(`koodrive:user:${userId}`, JSON.stringify({ containerId: `c-${randomUUID()}` }));
      return userId;
    },
    renameFile: async (service, from, to) => {
      await testDb().file.deleteMany({ where: { id: to } });
      await testDb().file.update({ where: { id: from }, data: { id: to } });
      return service;
    },
    storedMetadata: async (fileId) => {
      const row = await fileRow(fileId);
      return { fileType: row.fileType, createdTime: row.clientCreatedAt };
    },
    cleanUp: async () => {
      await testDb().file.deleteMany({ where: { id: SEED_FILE_ID } });
      await closeTestRedis();
      await closeTestDb();
    },
  },
  {
    name: 'embedded (PGlite, local disk, in process)',
    start: () =>
      ServiceProcess.start(
        { DATA_DIR: embeddedDir, DEMO_TOKEN: SEED_TOKEN, APP_CREDENTIALS, LOG_LEVEL: 'info' },
        EMBEDDED_UNSET,
      ),
    // the embedded user directory holds the demo user
    appUserId: () => Promise.resolve('demo'),
    // PGlite is the service's own: the file is renamed while the service is stopped
    renameFile: async (service, from, to) => {
      await service.stop();
      const db = await PGlite.create({ dataDir: path.join(embeddedDir, 'pg') });
      try {
        await db.query('UPDATE files SET id = $2 WHERE id = $1', [from, to]);
      } finally {
        await db.close();
      }
      return STACKS[1]!.start();
    },
    // through the running service's PGlite socket (<DATA_DIR>/run, two connections allowed)
    storedMetadata: async (fileId) => {
      const client = new pg.Client({ host: path.join(embeddedDir, 'run'), user: 'postgres', database: 'postgres' });
      await client.connect();
      try {
        const { rows } = await client.query<{ fileType: string | null; createdTime: Date | null }>(
          'SELECT file_type AS "fileType", client_created_at AS "createdTime" FROM files WHERE id = $1',
          [fileId],
        );
        assert.equal(rows.length, 1, `${fileId} is in the embedded database`);
        return rows[0]!;
      } finally {
        await client.end();
      }
    },
    cleanUp: () => rm(embeddedDir, { recursive: true, force: true }),
  },
];

// A route's path: files/<route>, or revision/<endpoint> as given.
function apiPath(route: string): string {
  return route.startsWith('revision/') ? `/koodrive/ose/v1/${route}` : `/koodrive/ose/v1/files/${route}`;
}

async function send(
  baseUrl: string,
  route: string,
  body: string,
  headers: Record<string, string> = { authorization: SEED_AUTHORIZATION },
): Promise<Answer> {
  const response = await fetch(`${baseUrl}${apiPath(route)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer['body'] };
}

// An app-signed call, as a carrier-edition server would make it (signed afresh every time).
async function sendSigned(baseUrl: string, route: string, body: string, userId: string): Promise<Answer> {
  const url = new URL(`${baseUrl}${apiPath(route)}`);
  const headers = {
    host: url.host,
    'x-date': formatXDate(new Date()),
    'x-user-id': userId,
    'content-type': 'application/json',
  };
  const { authorization } = signAppRequest({
    ...APP,
    method: 'POST',
    path: url.pathname,
    headers,
    signedHeaders: ['content-type'],
    body,
  });
  return send(baseUrl, route, body, { ...headers, authorization });
}

function assertSuccess(answer: Answer): void {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
  assert.equal(answer.body.msg, 'success.');
  assert.ok(answer.headers.get('x-traceid'), 'X-Traceid on every answer');
}

async function putParts(data: Buffer, multiParts: unknown): Promise<void> {
  const parts = multiParts as { partOffset: number; partSize: number; uploadUrl: string }[];
  for (const part of parts) {
    const response = await fetch(part.uploadUrl, {
      method: 'PUT',
      body: data.subarray(part.partOffset, part.partOffset + part.partSize),
    });
    assert.equal(response.status, 200, await response.text());
  }
}

// Eight state words that no file hashes to, for plans nobody uploads.
function stateWords(seed: string): number[] {
  const digest = createHash('sha256').update(seed).digest();
  return Array.from({ length: 8 }, (_, i) => digest.readUInt32BE(i * 4));
}

function assertPartUrl(part: Record<string, unknown>, expected: { partNumber: number; partSize: number }): void {
  assert.equal(part.partNumber, expected.partNumber);
  assert.equal(part.partSize, expected.partSize);
  assert.equal(typeof part.partOffset, 'number');
  assert.equal(typeof part.uploadUrl, 'string');
  assert.ok(URL.canParse(part.uploadUrl as string), 'uploadUrl is a URL');
  assert.equal(typeof part.partId, 'string');
  assert.ok(!Number.isNaN(Date.parse(part.expiresAt as string)), 'expiresAt is a time');
}

for (const stack of STACKS) {
  describe(`KooDrive conformance on the ${stack.name} stack`, () => {
    let service: ServiceProcess;

    before(async () => {
      service = await stack.start();
    });
    after(async () => {
      await service.stop();
      await stack.cleanUp();
    });

    it('create answers every field of KooDrive with its JSON type', async () => {
      const answer = await send(
        service.baseUrl,
        'create',
        JSON.stringify({ fileName: `a-${randomUUID()}.txt`, length: 11 }),
      );
      assertSuccess(answer);
      const { fileId, uploadId, fileName, parentFolder, containerId, rapidUpload, exist, multiParts } = answer.body;
      assert.match(fileId as string, /^Fi[A-Za-z0-9]{31}$/);
      assert.equal(typeof uploadId, 'string');
      assert.equal(typeof fileName, 'string');
      assert.deepEqual(parentFolder, ['root']);
      assert.equal(typeof containerId, 'string');
      assert.equal(rapidUpload, false);
      assert.equal(exist, false);
      assert.deepEqual(multiParts, []);
    });

    it("answers uploadUrl's documented example, part 46, sent as it stands", async () => {
      const created = await send(
        service.baseUrl,
        'create',
        JSON.stringify({ fileName: `p46-${randomUUID()}.bin`, length: 471859200 + 10485760 }),
      );
      assertSuccess(created);
      const body = `{"fileId": "${created.body.fileId as string}", "multiParts": [${PART_46}]}`;
      const answer = await send(service.baseUrl, 'multipart/uploadUrl', body);
      assertSuccess(answer);
      const parts = answer.body.multiParts as Record<string, unknown>[];
      assert.equal(parts.length, 1);
      assertPartUrl(parts[0]!, { partNumber: 46, partSize: 10485760 });
      assert.equal(parts[0]!.partOffset, 471859200);
      assert.deepEqual(parts[0]!.hashCtx, PART_46_HASH_CTX, 'hashCtx echoed as the array it came as');
    });

    it("answers the original complete page's example request with its example response", async () => {
      const data = testBytes(5 * MIB + 100, 60);
      const created = await send(
        service.baseUrl,
        'create',
        JSON.stringify({
          fileName: `seed-${randomUUID()}.bin`,
          length: data.length,
          multiParts: parallelParts(data, 5 * MIB),
        }),
      );
      assertSuccess(created);
      await putParts(data, created.body.multiParts);
      service = await stack.renameFile(service, created.body.fileId as string, SEED_FILE_ID);
      const answer = await send(service.baseUrl, 'complete', SEED_COMPLETE_BODY);
      assertSuccess(answer);
      // the page's example response, field by field
      for (const [field, value] of Object.entries(SEED_COMPLETE_ANSWER)) {
        assert.deepEqual(answer.body[field], value, field);
      }
      // KooDrive's fields exactly; the rest are this service's extensions
      assert.equal(answer.body.fileId, SEED_FILE_ID);
      assert.equal(answer.body.sha256, sha256Hex(data));
      assert.equal(answer.body.length, data.length);
    });

    it('names the field and the JSON type it must have when a type is wrong', async () => {
      const cases: [string, object, string][] = [
        ['create', { fileName: 'a', length: 1, fileType: true }, 'fileType: must be a string or an integer'],
        ['create', { fileName: 7, length: 1 }, 'fileName: must be a string'],
        ['create', { fileName: 'a', length: '1' }, 'length: must be an integer'],
        ['create', { fileName: 'a', length: 1, createdTime: 20230818 }, 'createdTime: must be a string'],
        [
          'multipart/uploadUrl',
          { fileId: 'Fiabc', multiParts: [{ partNumber: 2, partSize: 1, hashCtx: { h: [] } }] },
          'multiParts[0].hashCtx: must be an array of 8 integers from 0 to 4294967295 (or the base64 form)',
        ],
      ];
      for (const [route, body, detail] of cases) {
        const answer = await send(service.baseUrl, route, JSON.stringify(body));
        assert.equal(answer.status, 400);
        assert.equal(answer.body.code, 13000102);
        assert.equal(answer.body.msg, `Verify parameters failed. ${detail}`);
      }
    });

    it('uploads as the standard edition does: a string fileType, Bearer+, part URLs from create', async () => {
      const data = testBytes(2 * 5 * MIB + 4321, 61);
      const created = await send(
        service.baseUrl,
        'create',
        JSON.stringify({
          fileName: `standard-${randomUUID()}.docx`,
          fileType: 'document',
          length: data.length,
          sha256: sha256Hex(data),
          createdTime: '2023-08-18T05:43:49.123Z',
          multiParts: parallelParts(data, 5 * MIB),
        }),
      );
      assertSuccess(created);
      const parts = created.body.multiParts as Record<string, unknown>[];
      assert.equal(parts.length, 3);
      parts.forEach((part, i) =>
        assertPartUrl(part, { partNumber: i + 1, partSize: Math.min(5 * MIB, data.length - i * 5 * MIB) }),
      );
      await putParts(data, parts);
      const completed = await send(service.baseUrl, 'complete', JSON.stringify({ fileId: created.body.fileId }));
      assertSuccess(completed);
      assert.equal(completed.body.sha256, sha256Hex(data));
      const stored = await stack.storedMetadata(created.body.fileId as string);
      assert.equal(stored.fileType, 'document');
      assert.equal(stored.createdTime?.toISOString(), '2023-08-18T05:43:49.123Z');
    });

    it('uploads as the carrier edition does: an integer fileType, its createdTime, app authentication', async () => {
      const userId = await stack.appUserId();
      const data = testBytes(5 * MIB + 77, 62);
      const created = await sendSigned(
        service.baseUrl,
        'create',
        JSON.stringify({
          fileName: `carrier-${randomUUID()}.zip`,
          fileType: 35,
          length: data.length,
          sha256: sha256Hex(data),
          createdTime: '2023-08-18 05:43:49',
          uploadMode: 'put',
        }),
        userId,
      );
      assertSuccess(created);
      const parts = created.body.multiParts as Record<string, unknown>[];
      assert.equal(parts.length, 1, 'uploadMode put: one URL for the whole file');
      assertPartUrl(parts[0]!, { partNumber: 1, partSize: data.length });
      await putParts(data, parts);
      const completeBody = JSON.stringify({ fileId: created.body.fileId, sha256: sha256Hex(data) });
      const completed = await sendSigned(service.baseUrl, 'complete', completeBody, userId);
      assertSuccess(completed);
      assert.equal(completed.body.sha256, sha256Hex(data));
      const stored = await stack.storedMetadata(created.body.fileId as string);
      assert.equal(stored.fileType, '35');
      assert.equal(stored.createdTime?.toISOString(), '2023-08-18T05:43:49.000Z');
    });

    it('uploads a new version as the standard edition does: Bearer+, part URLs from createRevision, keepPolicy', async () => {
      const first = testBytes(100, 63);
      const created = await send(
        service.baseUrl,
        'create',
        JSON.stringify({
          fileName: `v-${randomUUID()}.docx`,
          fileType: 'document',
          length: first.length,
          multiParts: parallelParts(first, 5 * MIB),
        }),
      );
      assertSuccess(created);
      await putParts(first, created.body.multiParts);
      assertSuccess(await send(service.baseUrl, 'complete', JSON.stringify({ fileId: created.body.fileId })));
      const { fileId, containerId } = created.body;

      const data = testBytes(2 * 5 * MIB + 99, 64);
      const revision = await send(
        service.baseUrl,
        'revision/createRevision',
        JSON.stringify({
          fileId,
          containerId,
          length: data.length,
          uploadMode: 'multipart',
          uploadType: 1,
          sha256: sha256Hex(data),
          preHash: sha256Hex(data.subarray(0, 1024)),
          multiParts: parallelParts(data, 5 * MIB),
          keepPolicy: 1,
          mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
          createdTime: '2024-02-29T23:59:58Z',
        }),
      );
      assertSuccess(revision);
      // create's answer without fileName, parentFolder and exist, with revisionId
      assert.deepEqual(Object.keys(revision.body), [
        'code',
        'msg',
        'fileId',
        'uploadId',
        'containerId',
        'rapidUpload',
        'multiParts',
        'revisionId',
      ]);
      assert.equal(revision.body.fileId, fileId);
      assert.equal(typeof revision.body.uploadId, 'string');
      assert.notEqual(revision.body.uploadId, '');
      assert.equal(revision.body.containerId, containerId);
      assert.equal(revision.body.rapidUpload, false);
      assert.match(revision.body.revisionId as string, /^\d{1,20}\.\d{1,20}$/);
      const parts = revision.body.multiParts as Record<string, unknown>[];
      assert.equal(parts.length, 3);
      parts.forEach((part, i) =>
        assertPartUrl(part, { partNumber: i + 1, partSize: Math.min(5 * MIB, data.length - i * 5 * MIB) }),
      );
      await putParts(data, parts);
      const completed = await send(service.baseUrl, 'revision/completeRevision', JSON.stringify({ fileId }));
      assertSuccess(completed);
      assert.deepEqual(completed.body, {
        code: 0,
        msg: 'success.',
        fileId,
        sha256: sha256Hex(data),
        length: data.length,
        revisionId: revision.body.revisionId,
        revisionVersion: 2,
      });
      const stored = await stack.storedMetadata(fileId as string);
      assert.equal(stored.fileType, 'document', "the file's type stays");
      assert.equal(stored.createdTime?.toISOString(), '2024-02-29T23:59:58.000Z');
    });

    it('uploads a new version as the carrier edition does: app authentication, its createdTime, uploadUrl', async () => {
      const userId = await stack.appUserId();
      const first = testBytes(64, 65);
      const created = await sendSigned(
        service.baseUrl,
        'create',
        JSON.stringify({ fileName: `cv-${randomUUID()}.zip`, fileType: 35, length: first.length, uploadMode: 'put' }),
        userId,
      );
      assertSuccess(created);
      await putParts(first, created.body.multiParts);
      assertSuccess(
        await sendSigned(service.baseUrl, 'complete', JSON.stringify({ fileId: created.body.fileId }), userId),
      );
      const { fileId, containerId } = created.body;

      const data = testBytes(5 * MIB + 1234, 66);
      const revision = await sendSigned(
        service.baseUrl,
        'revision/createRevision',
        JSON.stringify({ fileId, containerId, length: data.length, createdTime: '2023-08-18 05:43:49' }),
        userId,
      );
      assertSuccess(revision);
      assert.deepEqual(revision.body.multiParts, []);
      // KooDrive has no revision uploadUrl: the file's id names its pending version
      const urls = await sendSigned(
        service.baseUrl,
        'multipart/uploadUrl',
        JSON.stringify({ fileId, multiParts: parallelParts(data, 5 * MIB) }),
        userId,
      );
      assertSuccess(urls);
      await putParts(data, urls.body.multiParts);
      const completed = await sendSigned(
        service.baseUrl,
        'revision/completeRevision',
        JSON.stringify({ fileId, sha256: sha256Hex(data) }),
        userId,
      );
      assertSuccess(completed);
      assert.equal(completed.body.fileId, fileId);
      assert.equal(completed.body.sha256, sha256Hex(data));
      assert.equal(completed.body.length, data.length);
      assert.equal(completed.body.revisionId, revision.body.revisionId);
      assert.equal(completed.body.revisionVersion, 2);
      const stored = await stack.storedMetadata(fileId as string);
      assert.equal(stored.fileType, '35');
      assert.equal(stored.createdTime?.toISOString(), '2023-08-18T05:43:49.000Z');
    });

    it('plans 10,000 parts with hashCtx in one create and again in one uploadUrl', async (t) => {
      const partSize = 5 * MIB;
      const multiParts = Array.from({ length: 10_000 }, (_, i) => ({
        partNumber: i + 1,
        partSize,
        partOffset: i * partSize,
        ...(i === 0 ? {} : { hashCtx: stateWords(`state-${i}`) }),
      }));
      const body = JSON.stringify({
        fileName: `big-${randomBytes(6).toString('hex')}.bin`,
        length: 10_000 * partSize,
        multiParts,
      });
      assert.ok(body.length > 1024 * 1024, `a body of ${body.length} bytes, over 1 MiB`);
      let started = performance.now();
      const created = await send(service.baseUrl, 'create', body);
      const createMs = performance.now() - started;
      assertSuccess(created);
      assert.equal((created.body.multiParts as unknown[]).length, 10_000);
      started = performance.now();
      const again = await send(
        service.baseUrl,
        'multipart/uploadUrl',
        JSON.stringify({ fileId: created.body.fileId, multiParts }),
      );
      const uploadUrlMs = performance.now() - started;
      assertSuccess(again);
      const parts = again.body.multiParts as Record<string, unknown>[];
      assert.deepEqual(
        parts.map((part) => part.partNumber),
        multiParts.map((part) => part.partNumber),
      );
      t.diagnostic(`10,000 parts: create ${createMs.toFixed(0)} ms, uploadUrl ${uploadUrlMs.toFixed(0)} ms`);
    });
  });
}

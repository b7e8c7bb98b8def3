// node bench/floor.ts (env: PORT, DATABASE_URL, REDIS_URL, S3_ENDPOINT, S3_PUBLIC_ENDPOINT, S3_BUCKET,
// S3_KEY_PREFIX, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
// The floor the bench holds the service to: the same three calls (create, uploadUrl, complete)
// answered by a bare node:http server with `pg`, ioredis and the AWS SDK, doing only what an upload
// cannot do without, each state change in one statement:
// - every request: one Redis round trip (a script reads the session, restarting its TTL, and counts
//   the request in the user's rate-limit window);
// - create: CreateMultipartUpload; one INSERT of the file and its name (folder entry);
// - uploadUrl: one INSERT of the part plans (guarded by the file's owner and status), and presigned
//   UploadPart URLs (or this server's own part URL, `uploadVia: "service"`);
// - a part PUT here (one-part files only): one UPDATE taking the part, UploadPart streamed while
//   hashed, one UPDATE recording the digest;
// - complete: one UPDATE claiming the file, ListParts, CompleteMultipartUpload, the digest (read back
//   with one GetObject, unless the one part was hashed here), and one statement recording the
//   outcome with its outbox event.
// No validation beyond what the bench sends, no spans, no logs, no metrics, no outbox relay: a
// floor, not a service. Rows go in the service's own tables (files, folder_entries, file_parts,
// outbox_events). Runs with Node's type stripping: erasable syntax only, no @koodrive imports.
import { createHash, randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { Transform } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Redis } from 'ioredis';
import pg from 'pg';

const env = process.env;
const BUCKET = env.S3_BUCKET!;
const KEY_PREFIX = env.S3_KEY_PREFIX ?? 'files/';
const RATE_LIMIT = { requests: 600, windowSeconds: 60 };
const SESSION_TTL_SECONDS = 1200;
const PART_URL_TTL_SECONDS = 3600;

const s3Of = (endpoint: string): S3Client =>
  new S3Client({
    endpoint,
    region: env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
const s3 = s3Of(env.S3_ENDPOINT!);
// presigns for the endpoint clients reach the store at
const publicS3 = s3Of(env.S3_PUBLIC_ENDPOINT ?? env.S3_ENDPOINT!);
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10 });
const redis = new Redis(env.REDIS_URL!);

const ADMIT = `
local raw = redis.call('GETEX', KEYS[1], 'EX', ARGV[1])
if not raw then return nil end
local rate = ARGV[2] .. cjson.decode(raw).userId
local n = redis.call('INCR', rate)
if n == 1 then redis.call('EXPIRE', rate, ARGV[3]) end
return {raw, n}
`;
redis.defineCommand('floorAdmit', { numberOfKeys: 1, lua: ADMIT });
const admitScript = redis as unknown as {
  floorAdmit(key: string, ttl: number, ratePrefix: string, window: number): Promise<[string, number] | null>;
};

interface Caller {
  readonly userId: string;
  readonly containerId: string;
}

class Refused extends Error {
  readonly status: number;
  readonly code: number;

  constructor(status: number, code: number) {
    super(`refused with ${code}`);
    this.status = status;
    this.code = code;
  }
}

async function admit(request: IncomingMessage): Promise<Caller> {
  const token = /^Bearer[ +](.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (token === undefined) {
    throw new Refused(401, 13000901);
  }
  const key = `koodrive:session:${createHash('sha256').update(token).digest('hex')}`;
  const answer = await admitScript.floorAdmit(
    key,
    SESSION_TTL_SECONDS,
    'koodrive:floor:ratelimit:',
    RATE_LIMIT.windowSeconds,
  );
  if (answer === null) {
    throw new Refused(401, 13000901);
  }
  if (answer[1] > RATE_LIMIT.requests) {
    throw new Refused(429, 13000903);
  }
  return JSON.parse(answer[0]) as Caller;
}

const CREATE = `
WITH f AS (
  INSERT INTO files (id, owner_id, container_id, parent_folder, file_name, length, declared_sha256,
                     storage_key, upload_id, upload_token, expires_at, updated_at)
  VALUES ($1, $2, $3, 'root', $4, $5, $6, $7, $8, $9, now() + interval '7 days', now())
  RETURNING id, container_id, parent_folder, file_name)
INSERT INTO folder_entries (container_id, parent_folder, file_name, file_id)
SELECT container_id, parent_folder, file_name, id FROM f`;

interface CreateBody {
  readonly fileName: string;
  readonly length: number;
  readonly sha256?: string;
  // "put": the one part's URL in create's answer (what uploadUrl would answer for it)
  readonly uploadMode?: string;
}

async function create(caller: Caller, body: CreateBody): Promise<object> {
  const fileId = `Fi${randomBytes(24).toString('base64url').slice(0, 31)}`;
  const key = `${KEY_PREFIX}${encodeURIComponent(caller.containerId)}/${fileId}`;
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  await pool.query(CREATE, [
    fileId,
    caller.userId,
    caller.containerId,
    body.fileName,
    body.length,
    body.sha256?.toLowerCase() ?? null,
    key,
    UploadId,
    randomBytes(16).toString('hex'),
  ]);
  return { fileId, uploadId: UploadId };
}

const PLAN = `
WITH f AS (SELECT id, storage_key, upload_id FROM files WHERE id = $1 AND owner_id = $2 AND status = 'UPLOADING'),
planned AS (
  INSERT INTO file_parts (file_id, part_number, part_size, part_offset, via_service_only)
  SELECT f.id, p.n, p.size, p.off, $6 FROM f CROSS JOIN unnest($3::int[], $4::bigint[], $5::bigint[]) AS p(n, size, off)
  ON CONFLICT (file_id, part_number) DO UPDATE SET part_size = excluded.part_size, part_offset = excluded.part_offset,
    via_service_only = file_parts.via_service_only AND excluded.via_service_only, requested_at = now()
  RETURNING part_number)
SELECT storage_key, upload_id, (SELECT count(*) FROM planned)::int AS planned FROM f`;

interface PartAsked {
  readonly partNumber: number;
  readonly partSize: number;
  readonly partOffset?: number;
}

async function uploadUrl(
  caller: Caller,
  body: { fileId: string; multiParts: PartAsked[]; uploadVia?: string },
  origin: string,
): Promise<object> {
  const viaService = body.uploadVia === 'service';
  const parts = body.multiParts;
  const { rows } = await pool.query<{ storage_key: string; upload_id: string }>(PLAN, [
    body.fileId,
    caller.userId,
    parts.map((p) => p.partNumber),
    parts.map((p) => p.partSize),
    parts.map((p) => p.partOffset ?? (p.partNumber - 1) * p.partSize),
    viaService,
  ]);
  const file = rows[0];
  if (file === undefined) {
    throw new Refused(400, 13000401);
  }
  const urlOf = (partNumber: number): Promise<string> =>
    viaService
      ? Promise.resolve(`${origin}/parts/${body.fileId}/${partNumber}`)
      : getSignedUrl(
          publicS3,
          new UploadPartCommand({
            Bucket: BUCKET,
            Key: file.storage_key,
            UploadId: file.upload_id,
            PartNumber: partNumber,
          }),
          { expiresIn: PART_URL_TTL_SECONDS },
        );
  const multiParts = await Promise.all(
    parts.map(async ({ partNumber, partSize }) => ({
      partNumber,
      partSize,
      uploadUrl: await urlOf(partNumber),
      uploadVia: viaService ? 'service' : 's3',
    })),
  );
  return { multiParts };
}

const TAKE_PART = `
UPDATE file_parts p SET put_seq = p.put_seq + 1, hashed_sha256 = NULL, uploaded_etag = NULL
FROM files f
WHERE p.file_id = $1 AND p.part_number = $2 AND p.via_service_only AND f.id = p.file_id AND f.status = 'UPLOADING'
RETURNING f.storage_key, f.upload_id, p.put_seq`;
const RECORD_PART = `
UPDATE file_parts SET uploaded_etag = $4, uploaded_size = $5, hashed_sha256 = $6, uploaded_at = now()
WHERE file_id = $1 AND part_number = $2 AND put_seq = $3`;

// A part PUT to this server: streamed to UploadPart while hashed (one-part files: the part's
// digest is the file's).
async function putPart(request: IncomingMessage, fileId: string, partNumber: number): Promise<object> {
  const { rows } = await pool.query<{ storage_key: string; upload_id: string; put_seq: number }>(TAKE_PART, [
    fileId,
    partNumber,
  ]);
  const part = rows[0];
  if (part === undefined || partNumber !== 1) {
    throw new Refused(400, 13000401);
  }
  const hash = createHash('sha256');
  let size = 0;
  const hashed = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const { ETag } = await s3.send(
    new UploadPartCommand({
      Bucket: BUCKET,
      Key: part.storage_key,
      UploadId: part.upload_id,
      PartNumber: partNumber,
      ContentLength: Number(request.headers['content-length']),
      Body: request.pipe(hashed),
    }),
  );
  await pool.query(RECORD_PART, [fileId, partNumber, part.put_seq, ETag, size, hash.digest('hex')]);
  return { partNumber, etag: ETag, size };
}

const CLAIM = `
UPDATE files f SET status = 'COMPLETING', claim = claim + 1, claim_expires_at = now() + interval '60 seconds',
  expected_sha256 = coalesce($3, declared_sha256), updated_at = now()
WHERE id = $1 AND owner_id = $2 AND status = 'UPLOADING' AND expires_at > now()
RETURNING claim, storage_key, upload_id, length::text AS length, expected_sha256,
  (SELECT hashed_sha256 FROM file_parts p
    WHERE p.file_id = f.id AND p.part_number = 1 AND p.via_service_only) AS part_sha256`;
const COMPLETED = `
WITH f AS (
  UPDATE files SET status = 'COMPLETED', actual_sha256 = $3, verified_by = $4, completed_at = now(),
    claim_expires_at = NULL, updated_at = now()
  WHERE id = $1 AND claim = $2 AND status = 'COMPLETING'
  RETURNING id, owner_id, container_id, parent_folder, file_name, length, storage_key)
INSERT INTO outbox_events (type, file_id, payload)
SELECT 'file.completed', id, jsonb_build_object('fileId', id, 'ownerId', owner_id, 'containerId', container_id,
  'parentFolder', parent_folder, 'fileName', file_name, 'length', length, 'sha256', $3::text, 'storageKey', storage_key)
FROM f`;
const FAILED = `
WITH f AS (
  UPDATE files SET status = $3::file_status, result_code = 13000402, claim_expires_at = NULL, updated_at = now()
  WHERE id = $1 AND claim = $2 AND status = 'COMPLETING' RETURNING id)
DELETE FROM folder_entries WHERE file_id IN (SELECT id FROM f) AND $3 = 'FAILED'`;

interface Claimed {
  readonly claim: number;
  readonly storage_key: string;
  readonly upload_id: string;
  readonly length: string;
  readonly expected_sha256: string | null;
  readonly part_sha256: string | null;
}

async function complete(caller: Caller, body: { fileId: string; sha256?: string }): Promise<object> {
  const claimed = await pool.query<Claimed>(CLAIM, [body.fileId, caller.userId, body.sha256?.toLowerCase() ?? null]);
  const file = claimed.rows[0];
  if (file === undefined) {
    throw new Refused(400, 13000401);
  }
  const { Parts = [] } = await s3.send(
    new ListPartsCommand({ Bucket: BUCKET, Key: file.storage_key, UploadId: file.upload_id }),
  );
  const whole =
    Parts.every((part, i) => part.PartNumber === i + 1) &&
    Parts.reduce((sum, part) => sum + (part.Size ?? 0), 0) === Number(file.length);
  if (!whole) {
    await pool.query(FAILED, [body.fileId, file.claim, 'UPLOADING']);
    throw new Refused(400, 13000402);
  }
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: BUCKET,
      Key: file.storage_key,
      UploadId: file.upload_id,
      MultipartUpload: { Parts: Parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
    }),
  );
  const hashedHere = Parts.length === 1 && file.part_sha256 !== null;
  const sha256 = hashedHere ? file.part_sha256 : await readBack(file.storage_key);
  if (file.expected_sha256 !== null && file.expected_sha256 !== sha256) {
    await pool.query(FAILED, [body.fileId, file.claim, 'FAILED']);
    throw new Refused(400, 13000402);
  }
  await pool.query(COMPLETED, [body.fileId, file.claim, sha256, hashedHere ? 'hash_chain' : 'stream']);
  return { fileId: body.fileId, sha256, length: Number(file.length) };
}

async function readBack(key: string): Promise<string> {
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of Body as AsyncIterable<Buffer>) {
    hash.update(chunk);
  }
  return hash.digest('hex');
}

async function jsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const API = '/koodrive/ose/v1/files/';

async function answerOf(request: IncomingMessage): Promise<object> {
  const url = request.url ?? '';
  const part = /^\/parts\/([^/]+)\/(\d+)$/.exec(url);
  if (request.method === 'PUT' && part !== null) {
    return putPart(request, part[1]!, Number(part[2]));
  }
  if (request.method !== 'POST' || !url.startsWith(API)) {
    throw new Refused(404, 13000101);
  }
  const caller = await admit(request);
  const body = await jsonBody(request);
  switch (url.slice(API.length)) {
    case 'create': {
      const created = (await create(caller, body as CreateBody)) as { fileId: string };
      const { uploadMode, length } = body as CreateBody;
      return uploadMode !== 'put'
        ? created
        : {
            ...created,
            ...(await uploadUrl(
              caller,
              { fileId: created.fileId, multiParts: [{ partNumber: 1, partSize: length, partOffset: 0 }] },
              `http://${request.headers.host}`,
            )),
          };
    }
    case 'multipart/uploadUrl':
      return uploadUrl(caller, body as Parameters<typeof uploadUrl>[1], `http://${request.headers.host}`);
    case 'complete':
      return complete(caller, body as Parameters<typeof complete>[1]);
    default:
      throw new Refused(404, 13000101);
  }
}

function send(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

const server = createServer((request, response) => {
  if (request.url === '/readyz' || request.url === '/healthz') {
    send(response, 200, { status: 'ok' });
    return;
  }
  answerOf(request).then(
    (answer) => send(response, 200, { code: 0, msg: 'success.', ...answer }),
    (error: unknown) => {
      if (error instanceof Refused) {
        send(response, error.status, { code: error.code, msg: error.message });
        return;
      }
      console.error('floor:', error);
      send(response, 500, { code: 13000201, msg: 'Internal calling error.' });
    },
  );
});
server.keepAliveTimeout = 65_000;

// ready once PostgreSQL and Redis answer
await pool.query('SELECT 1');
await redis.ping();
server.listen(Number(env.PORT ?? 3996), '127.0.0.1');

// SIGTERM: close everything and let the process end by itself (so --cpu-prof writes its profile)
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void Promise.allSettled([pool.end(), redis.quit()]).then(() => {
    s3.destroy();
    publicS3.destroy();
  });
  setTimeout(() => process.exit(0), 5000).unref();
});

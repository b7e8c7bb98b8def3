// The bench's wire counters against the real PostgreSQL, Redis and RGW, through the fault proxy:
// each case runs statements, commands and S3 calls whose number is known from the case itself
// (what the client is asked to send), and the counters must read exactly that.
import '../test/support/test-env.ts';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Redis } from 'ioredis';
import pg from 'pg';
import { FaultProxy } from '../tools/testing/fault-proxy.ts';
import {
  type PgCounts,
  PgWireObserver,
  type RespCounts,
  RespWireObserver,
  emptyPgCounts,
  emptyRespCounts,
  s3Tally,
} from './wire-counters.ts';

// what changed in `counts` while `work` ran
async function delta<T extends PgCounts | RespCounts>(counts: T, work: () => Promise<unknown>): Promise<T> {
  const before = structuredClone(counts) as unknown as Record<string, number | Record<string, number>>;
  await work();
  const changed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(counts)) {
    if (typeof value === 'number') {
      changed[name] = value - (before[name] as number);
    } else {
      const was = before[name] as Record<string, number>;
      changed[name] = Object.fromEntries(
        Object.entries(value as Record<string, number>)
          .map(([key, n]) => [key, n - (was[key] ?? 0)])
          .filter(([, n]) => n !== 0),
      );
    }
  }
  return changed as T;
}

describe('PgWireObserver', () => {
  const counts = emptyPgCounts();
  let proxy: FaultProxy;
  let client: pg.Client;

  before(async () => {
    proxy = await FaultProxy.start(process.env.DATABASE_URL!, { observe: () => new PgWireObserver(counts) });
    client = new pg.Client({ connectionString: proxy.url(process.env.DATABASE_URL!) });
    await client.connect();
  });

  after(async () => {
    await client.end();
    await proxy.stop();
  });

  it('sees the connection and no statement at startup', () => {
    assert.equal(counts.connections, 1);
    assert.equal(counts.statements, 0);
    assert.equal(counts.unparsedBytes, 0);
  });

  it('counts a simple query as one statement in one round trip, with no Parse', async () => {
    const seen = await delta(counts, () => client.query('SELECT 1'));
    assert.deepEqual(seen, { ...zeroPg(), statements: 1, byVerb: { SELECT: 1 }, queries: 1, roundTrips: 1 });
  });

  it('counts a query with parameters as Parse, Execute and one round trip', async () => {
    const seen = await delta(counts, () => client.query('SELECT $1::int AS n', [5]));
    assert.deepEqual(seen, {
      ...zeroPg(),
      statements: 1,
      byVerb: { SELECT: 1 },
      parses: 1,
      executes: 1,
      roundTrips: 1,
    });
  });

  it('counts every statement of a transaction by its verb, BEGIN and COMMIT included', async () => {
    const seen = await delta(counts, async () => {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE wire_counted (n int) ON COMMIT DROP');
      await client.query('INSERT INTO wire_counted VALUES ($1)', [1]);
      await client.query('INSERT INTO wire_counted VALUES ($1)', [2]);
      await client.query('UPDATE wire_counted SET n = n + 1');
      await client.query('DELETE FROM wire_counted WHERE n = $1', [3]);
      await client.query('COMMIT');
    });
    assert.deepEqual(seen, {
      ...zeroPg(),
      statements: 7,
      byVerb: { BEGIN: 1, CREATE: 1, INSERT: 2, UPDATE: 1, DELETE: 1, COMMIT: 1 },
      parses: 3,
      executes: 3,
      queries: 4,
      roundTrips: 7,
    });
  });

  it('counts each statement of a multi-statement query, in one round trip', async () => {
    const seen = await delta(counts, () => client.query('SELECT 1; SELECT 2; SELECT 3'));
    assert.deepEqual(seen, { ...zeroPg(), statements: 3, byVerb: { SELECT: 3 }, queries: 1, roundTrips: 1 });
  });

  it('counts a statement the server refuses as an error', async () => {
    const seen = await delta(counts, async () => {
      await assert.rejects(client.query('SELECT 1 / 0'));
      await assert.rejects(client.query('SELECT 1 / $1::int', [0]));
    });
    assert.deepEqual(seen, {
      ...zeroPg(),
      statements: 2,
      byVerb: { error: 2 },
      parses: 1,
      executes: 1,
      queries: 1,
      roundTrips: 2,
    });
  });

  it('follows a result far larger than one TCP read', async () => {
    const seen = await delta(counts, () => client.query("SELECT repeat('x', 100000) FROM generate_series(1, 50)"));
    assert.deepEqual(seen, { ...zeroPg(), statements: 1, byVerb: { SELECT: 1 }, queries: 1, roundTrips: 1 });
    assert.equal(counts.unparsedBytes, 0);
  });
});

function zeroPg(): PgCounts {
  return { ...emptyPgCounts(), connections: 0 };
}

function zeroResp(): RespCounts {
  return { ...emptyRespCounts(), connections: 0 };
}

describe('RespWireObserver', () => {
  const counts = emptyRespCounts();
  const key = `koodrive:test:wire-counters:${randomBytes(4).toString('hex')}`;
  // 'client' once the proxy has passed a read of a client's bytes on
  const reads = new EventEmitter();
  let proxy: FaultProxy;
  let redis: Redis;

  before(async () => {
    proxy = await FaultProxy.start(process.env.REDIS_URL!, {
      observe: () => {
        const observer = new RespWireObserver(counts);
        return {
          fromClient: (chunk) => {
            observer.fromClient(chunk);
            reads.emit('client');
          },
          fromUpstream: (chunk) => observer.fromUpstream(chunk),
        };
      },
    });
    redis = new Redis(proxy.url(process.env.REDIS_URL!), { enableReadyCheck: false });
    await redis.ping(); // connected, with whatever ioredis sends first
  });

  after(async () => {
    await redis.del(key, `${key}:n`, `${key}:stream`);
    redis.disconnect();
    await proxy.stop();
  });

  it('counts awaited commands as a round trip each', async () => {
    const seen = await delta(counts, async () => {
      await redis.ping();
      await redis.get(key);
      await redis.get(key);
    });
    assert.deepEqual(seen, { ...zeroResp(), commands: 3, byCommand: { PING: 1, GET: 2 }, replies: 3, roundTrips: 3 });
  });

  it('counts a pipeline, and commands written in one tick, as one round trip', async () => {
    const pipelined = await delta(counts, () => redis.pipeline().set(key, 'v').get(key).incr(`${key}:n`).exec());
    assert.deepEqual(pipelined, {
      ...zeroResp(),
      commands: 3,
      byCommand: { SET: 1, GET: 1, INCR: 1 },
      replies: 3,
      roundTrips: 1,
    });
    const oneTick = await delta(counts, () => Promise.all([redis.get(key), redis.get(`${key}:n`)]));
    assert.deepEqual(oneTick, { ...zeroResp(), commands: 2, byCommand: { GET: 2 }, replies: 2, roundTrips: 1 });
  });

  it('counts MULTI ... EXEC as its commands, each with its reply, in one round trip', async () => {
    const seen = await delta(counts, () => redis.multi().incr(`${key}:n`).expire(`${key}:n`, 60).exec());
    assert.deepEqual(seen, {
      ...zeroResp(),
      commands: 4,
      byCommand: { MULTI: 1, INCR: 1, EXPIRE: 1, EXEC: 1 },
      replies: 4,
      roundTrips: 1,
    });
  });

  it('counts a script as one command, whatever it calls inside', async () => {
    const script = "redis.call('INCR', KEYS[1]); return redis.call('GET', KEYS[1])";
    const seen = await delta(counts, () => redis.eval(script, 1, `${key}:n`));
    assert.deepEqual(seen, { ...zeroResp(), commands: 1, byCommand: { EVAL: 1 }, replies: 1, roundTrips: 1 });
  });

  it('counts error replies, nested replies and values with CR LF in them', async () => {
    const value = Buffer.concat([Buffer.from('a\r\nb\r\n'), randomBytes(200_000)]);
    const seen = await delta(counts, async () => {
      await redis.set(key, value);
      await assert.rejects(redis.hget(key, 'field')); // WRONGTYPE
      await redis.xadd(`${key}:stream`, '*', 'a', '1', 'b', '2');
      await redis.xrange(`${key}:stream`, '-', '+');
    });
    assert.deepEqual(seen, {
      ...zeroResp(),
      commands: 4,
      byCommand: { SET: 1, HGET: 1, XADD: 1, XRANGE: 1 },
      replies: 4,
      errorReplies: 1,
      roundTrips: 4,
    });
    assert.equal(counts.unparsedBytes, 0);
  });

  it('counts a command split across writes once, and inline commands', async () => {
    const socket = connect(Number(new URL(proxy.url(process.env.REDIS_URL!)).port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const until = async (text: string): Promise<void> => {
      while (!received.endsWith(text)) {
        await once(socket, 'data');
      }
    };
    const seen = await delta(counts, async () => {
      const firstRead = once(reads, 'client');
      socket.write('*1\r\n$4\r\nPI');
      await firstRead; // the rest comes in a read of its own
      socket.write('NG\r\n');
      await until('+PONG\r\n');
      socket.write('ECHO hello\r\n');
      await until('$5\r\nhello\r\n');
    });
    socket.destroy();
    assert.deepEqual(seen, {
      ...zeroResp(),
      commands: 2,
      byCommand: { PING: 1, ECHO: 1 },
      replies: 2,
      roundTrips: 2,
    });
  });
});

describe('s3Tally', () => {
  const bucket = process.env.S3_BUCKET!;
  const key = `test/wire-counters-${randomBytes(4).toString('hex')}`;
  let proxy: FaultProxy;
  let s3: S3Client;

  before(async () => {
    proxy = await FaultProxy.start(process.env.S3_ENDPOINT!, { http: true });
    s3 = new S3Client({
      endpoint: proxy.url(process.env.S3_ENDPOINT!),
      region: process.env.AWS_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! },
    });
  });

  after(async () => {
    s3.destroy();
    await proxy.stop();
  });

  it('names each request by its S3 operation, presigned ones too', async () => {
    const body = randomBytes(6 * 1024 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body.subarray(0, 1000) }));
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    await (
      await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-9' }))
    ).Body!.transformToByteArray();
    const presigned = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });
    assert.equal((await fetch(presigned, { headers: { range: 'bytes=0-9' } })).status, 206);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const { ETag } = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: body }),
    );
    await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId }));
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
      }),
    );
    const aborted = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${key}-aborted` }));
    await s3.send(
      new AbortMultipartUploadCommand({ Bucket: bucket, Key: `${key}-aborted`, UploadId: aborted.UploadId }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

    assert.deepEqual(s3Tally(proxy.requests, bucket), {
      PutObject: 1,
      HeadObject: 1,
      'GetObject (range)': 2,
      CreateMultipartUpload: 2,
      UploadPart: 1,
      ListParts: 1,
      CompleteMultipartUpload: 1,
      AbortMultipartUpload: 1,
      DeleteObject: 1,
    });
  });
});

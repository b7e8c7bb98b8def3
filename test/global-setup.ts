// Runs once around all specs: every service the tests need must answer (a missing one fails the
// run, it never skips tests), the test database gets the migrations; after, the tests' objects,
// rows and Redis keys are removed (what a run owns: the _test database, the test-files/ and test/
// prefixes of the bucket, the Redis keys of its u-/c- users and containers and its streams).
import './support/test-env.ts';
import { connect } from 'node:net';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { testS3 } from './support/s3.ts';
import { migrate } from '../tools/db/migrate.ts';

async function reachable(name: string, url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.end();
      resolve();
    });
    socket.setTimeout(3_000, () => socket.destroy(new Error('timeout')));
    socket.on('error', (error) =>
      reject(new Error(`${name} is not reachable at ${hostname}:${port} (${error.message}); run npm run services:up`)),
    );
  });
}

export async function globalSetup(): Promise<void> {
  await reachable('PostgreSQL', process.env.DATABASE_URL!);
  await reachable('Redis', process.env.REDIS_URL!);
  await reachable('S3 (Ceph RGW)', process.env.S3_ENDPOINT!);
  // PostgreSQL itself when the tests' database is behind a pooler (test-env). The outbox is
  // partitioned with pg_partman, required (not DATABASE_PARTITIONING=auto, which would leave it a
  // plain table where pg_partman is missing): services:up installs it, CI's always does, and the
  // partition tests must run against what production runs
  await migrate(process.env.DIRECT_DATABASE_URL ?? process.env.DATABASE_URL!, 'the test database', 'pg_partman');
}

// What the tests stored in the bucket (test containers are c-<uuid>, raw storage tests use test/):
// the local RGW keeps objects in memory, so a run leaves nothing behind.
const TEST_PREFIXES = [process.env.S3_KEY_PREFIX!, 'test/'];

// A teardown that throws leaves node's test runner waiting for good (a TRUNCATE refused by a new
// foreign key kept CI running past its 90 minutes): its failure is said, and fails the run.
export async function globalTeardown(): Promise<void> {
  const results = await Promise.allSettled([removeTestObjects(), removeTestRows(), removeTestKeys()]);
  for (const result of results) {
    if (result.status === 'rejected') {
      console.error('global teardown failed:', result.reason);
      process.exitCode = 1;
    }
  }
}

// the Redis keys the tests make: sessions expire by themselves (20 min); the rest is removed
const TEST_KEY_PATTERNS = [
  'koodrive:user:u-*',
  'koodrive:ratelimit:u-*',
  'koodrive:proof-failures:u-*',
  'koodrive:quota:c-*',
  'koodrive:test*',
];

async function removeTestKeys(): Promise<void> {
  const redis = new Redis(process.env.REDIS_URL!);
  try {
    for (const match of TEST_KEY_PATTERNS) {
      const stream = redis.scanStream({ match, count: 1000 });
      for await (const keys of stream as AsyncIterable<string[]>) {
        if (keys.length > 0) {
          await redis.del(...keys);
        }
      }
    }
  } finally {
    redis.disconnect();
  }
}

async function removeTestRows(): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query('TRUNCATE files, file_parts, file_versions, folder_entries, outbox_events');
  } finally {
    await client.end();
  }
}

async function removeTestObjects(): Promise<void> {
  const bucket = process.env.S3_BUCKET!;
  const s3 = testS3();
  try {
    for (const prefix of TEST_PREFIXES) {
      for (;;) {
        const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
        for (const upload of uploads.Uploads ?? []) {
          await s3.send(
            new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }),
          );
        }
        if (uploads.IsTruncated !== true) {
          break;
        }
      }
      for (;;) {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
        const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key }));
        if (keys.length > 0) {
          await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
        }
        if (listed.IsTruncated !== true) {
          break;
        }
      }
    }
  } finally {
    s3.destroy();
  }
}

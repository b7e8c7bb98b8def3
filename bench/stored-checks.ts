// What a bench run stored, checked without trusting anything the service says (the soak's and the
// load's verifiers): each object read back from the bucket by the verifier's own AWS SDK client and
// hashed here with node:crypto, to compare with the digest the uploading client computed before it
// sent a byte; and each file.completed event's payload as the outbox and the stream hold it,
// compared with the same client-side facts and the object's key.
import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import type pg from 'pg';

// What the uploading client knew of one file before it sent it, and where the file is stored.
export interface Expected {
  readonly fileId: string;
  readonly sha256: string;
  readonly length: number;
  readonly storageKey: string;
}

export interface StoredEvent {
  // the outbox row's id (the stream entry carries it as `id`)
  readonly id: string;
  readonly type: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly published: boolean;
}

// The object's bytes as the store gives them to the verifier: their SHA-256 and count, or why not.
export async function readBack(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ sha256: string; length: number } | { error: string }> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of object.Body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      length += chunk.length;
    }
    return { sha256: hash.digest('hex'), length };
  } catch (error) {
    return { error: (error as Error).name ?? String(error) };
  }
}

// What is wrong with the stored bytes of a file the client saw succeed (nothing: an empty list).
export async function bytesProblems(s3: S3Client, bucket: string, expected: Expected): Promise<string[]> {
  const stored = await readBack(s3, bucket, expected.storageKey);
  if ('error' in stored) {
    return [`its object ${expected.storageKey} could not be read back (${stored.error})`];
  }
  if (stored.sha256 !== expected.sha256 || stored.length !== expected.length) {
    return [
      `read back from storage: ${stored.length} B with SHA-256 ${stored.sha256}, ` +
        `but the client sent ${expected.length} B with SHA-256 ${expected.sha256}`,
    ];
  }
  return [];
}

// Every event of the outbox, by file.
export async function outboxEvents(db: pg.Pool, fileIds?: readonly string[]): Promise<Map<string, StoredEvent[]>> {
  const { rows } = await db.query<StoredEvent & { fileId: string }>(
    `SELECT id::text AS id, type, file_id AS "fileId", payload, published_at IS NOT NULL AS published
       FROM outbox_events ${fileIds === undefined ? '' : 'WHERE file_id = ANY($1)'}`,
    fileIds === undefined ? [] : [fileIds],
  );
  return byFile(rows);
}

// Every entry of the events stream, by file: the outbox id it carries and its payload, parsed.
export async function streamEvents(redis: Redis, stream: string): Promise<Map<string, StoredEvent[]>> {
  const entries: (StoredEvent & { fileId: string })[] = [];
  for (const [, fields] of await redis.xrange(stream, '-', '+')) {
    const field = (name: string): string => fields[fields.indexOf(name) + 1] ?? '';
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(field('payload')) as Record<string, unknown>;
    } catch {
      payload = {};
    }
    entries.push({ id: field('id'), type: field('type'), fileId: field('fileId'), payload, published: true });
  }
  return byFile(entries);
}

function byFile<T extends { fileId: string }>(rows: readonly T[]): Map<string, Omit<T, 'fileId'>[]> {
  const map = new Map<string, Omit<T, 'fileId'>[]>();
  for (const { fileId, ...rest } of rows) {
    map.set(fileId, [...(map.get(fileId) ?? []), rest]);
  }
  return map;
}

// The payload's facts that differ from `expected` (fileId, sha256, length, storageKey).
function payloadProblems(where: string, payload: Readonly<Record<string, unknown>>, expected: Expected): string[] {
  const facts: [string, unknown, unknown][] = [
    ['fileId', payload.fileId, expected.fileId],
    ['sha256', payload.sha256, expected.sha256],
    ['length', Number(payload.length), expected.length],
    ['storageKey', payload.storageKey, expected.storageKey],
  ];
  return facts
    .filter(([, got, want]) => got !== want)
    .map(([name, got, want]) => `${where}'s ${name} is ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
}

// What is wrong with a completed file's events: exactly one file.completed in the outbox, published,
// its payload the client's facts; in the stream that event (its outbox id; a relay that lost a
// batch's answer may send it again, never another), each entry's payload the same facts.
export function eventProblems(
  expected: Expected,
  outbox: readonly StoredEvent[] | undefined,
  streamed: readonly StoredEvent[] | undefined,
): string[] {
  const completed = (outbox ?? []).filter((event) => event.type === 'file.completed');
  if (completed.length !== 1 || outbox!.length !== 1) {
    return [`${outbox?.length ?? 0} outbox event(s), ${completed.length} of them file.completed: not exactly 1`];
  }
  const [event] = completed as [StoredEvent];
  const problems = payloadProblems('the outbox event', event.payload, expected);
  if (!event.published) {
    problems.push('its outbox event is not published');
  }
  const entries = streamed ?? [];
  if (entries.length === 0) {
    problems.push('no entry in the events stream');
  }
  for (const entry of entries) {
    if (entry.id !== event.id || entry.type !== event.type) {
      problems.push(`a stream entry carries outbox event ${entry.id} (${entry.type}), not ${event.id}`);
    }
    problems.push(...payloadProblems('a stream entry', entry.payload, expected));
  }
  return problems;
}

// Runs `check` on each item, `width` at a time, in order of the results.
export async function inTurn<T, R>(items: readonly T[], width: number, check: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await check(items[i]!);
      }
    }),
  );
  return results;
}

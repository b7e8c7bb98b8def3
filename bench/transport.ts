// The transport table: the lean data path's bytes (libs/storage: range-read.ts, part-put.ts) beside
// the kept libraries moving the same bytes to and from RGW, in this process, its CPU per byte
// (process.cpuUsage, the bench's own thread and the kernel's work for it). This is the bench that
// keeps the one hand-written piece (socket-reads.ts: a large range received straight into the
// caller's buffer): it stays while it beats node:http and undici by at least 20 %.
// - GET: a 64 MiB object read in 16 MiB ranges (VERIFY_RANGE_BYTES' default) into one buffer,
//   received in place (the lean path); node:http's chunks copied in; undici's chunks copied in;
// - PUT: 16 MiB parts from a body lending four 256 KiB buffers (as a part PUT through the service
//   does), over node:http (the lean path: each buffer back once the socket has it); over undici
//   (it takes an iterable and tells nothing of when the socket has a chunk, so each lent chunk is
//   copied before it is handed on).
// - part URLs: 10,000 UploadPart URLs of one upload (a 10,000-part create's), signed in bulk
//   (upload-part-urls.ts, the other hand-written piece: it stays while it beats the library by at
//   least 20 %) and one by one with @smithy/signature-v4 (S3Presigner.presign), µs of CPU a URL; the
//   two must give the same URLs (upload-part-urls.spec.ts checks it for every kind of key).
// Rounds alternate the contenders; the table gives each one's median.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Client } from 'undici';
import { type PartBody, putPart, readRange, S3Presigner } from '@koodrive/storage';
import { type Env, formatSize, s3Client } from './support.ts';

export interface TransportResult {
  readonly objectBytes: number;
  readonly rangeBytes: number;
  readonly partBytes: number;
  readonly rounds: number;
  // medians, ns of CPU per byte, by contender
  readonly get: Readonly<Record<string, number>>;
  readonly put: Readonly<Record<string, number>>;
  readonly samples: { readonly get: Record<string, number[]>; readonly put: Record<string, number[]> };
  // medians, µs of CPU per URL, by contender
  readonly partUrls: Readonly<Record<string, number>>;
}

const OBJECT_BYTES = 64 * 1024 * 1024;
const RANGE_BYTES = 16 * 1024 * 1024;
const PART_BYTES = 16 * 1024 * 1024;
const LENT_BYTES = 256 * 1024;
const TIMEOUTS = { connectTimeoutMs: 3_000, idleTimeoutMs: 10_000 };
const PART_URLS = 10_000;

// µs of this process's CPU per URL, for `rounds` alternating rounds of each way of signing
// PART_URLS UploadPart URLs; each round's URLs checked equal.
async function measurePartUrls(
  signer: S3Presigner,
  key: string,
  uploadId: string,
  rounds: number,
): Promise<Record<string, number>> {
  const parts = Array.from({ length: PART_URLS }, (_, i) => i + 1);
  const now = new Date();
  const ways: Record<string, () => Promise<string[]>> = {
    'lean path: in bulk, the canonical request a template (upload-part-urls.ts)': () =>
      signer.presignUploadParts(key, uploadId, parts, 600, now),
    '@smithy/signature-v4, one URL at a time (S3Presigner.presign)': async () => {
      const urls: string[] = [];
      for (const partNumber of parts) {
        urls.push(
          await signer.presign({
            method: 'PUT',
            key,
            query: { partNumber: String(partNumber), uploadId, 'x-id': 'UploadPart' },
            expiresInSeconds: 600,
            now,
          }),
        );
      }
      return urls;
    },
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const made: string[][] = [];
    for (const [name, sign] of Object.entries(ways)) {
      const start = process.cpuUsage();
      made.push(await sign());
      const used = process.cpuUsage(start);
      samples[name]!.push(Number(((used.user + used.system) / PART_URLS).toFixed(2)));
    }
    if (made.some((urls) => urls.join('\n') !== made[0]!.join('\n'))) {
      throw new Error('the bulk part URLs differ from @smithy/signature-v4\'s');
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

// A body of `size` bytes lending four buffers, as the service's request body does.
function lendingBody(size: number, fill: number): PartBody {
  const free = Array.from({ length: 4 }, () => Buffer.alloc(LENT_BYTES, fill));
  let sent = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  return {
    async flow(take) {
      while (sent < size && !stopped) {
        const buffer = free.pop();
        if (buffer === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const length = Math.min(LENT_BYTES, size - sent);
        sent += length;
        take(buffer.subarray(0, length), () => {
          free.push(buffer);
          wake?.();
        });
      }
    },
    stop() {
      stopped = true;
    },
  };
}

// An undici request body from a lending body: each chunk copied, then given back.
async function* copiedChunks(body: PartBody): AsyncGenerator<Buffer> {
  const queue: { chunk: Buffer; done: () => void }[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  void body
    .flow((chunk, done) => {
      queue.push({ chunk, done });
      wake?.();
    })
    .then(() => {
      ended = true;
      wake?.();
    });
  for (;;) {
    const next = queue.shift();
    if (next !== undefined) {
      const copy = Buffer.from(next.chunk);
      next.done();
      yield copy;
    } else if (ended) {
      return;
    } else {
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }
}

const median = (samples: readonly number[]): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function cpuNsPerByte(bytes: number, run: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return Number((((used.user + used.system) * 1000) / bytes).toFixed(3));
}

// Where the contenders read and write: one object to read, one multipart upload to write parts to.
interface Target {
  readonly into: Buffer;
  getUrl(): Promise<URL>;
  putUrl(): Promise<URL>;
}

type Get = (url: URL, start: number) => Promise<void>;
type Put = (url: URL) => Promise<void>;

function getContenders(target: Target, agent: http.Agent, undici: Client): Record<string, Get> {
  const { into } = target;
  return {
    'lean path: node:http, the range received in place (socket-reads.ts)': (url, start) =>
      readRange(url, start, into, { ...TIMEOUTS, agent, inPlaceFrom: 1 }),
    'node:http, its chunks copied in': (url, start) =>
      readRange(url, start, into, { ...TIMEOUTS, agent, inPlaceFrom: Number.POSITIVE_INFINITY }),
    'undici, its chunks copied in': async (url, start) => {
      const answer = await undici.request({
        method: 'GET',
        path: `${url.pathname}${url.search}`,
        headers: { range: `bytes=${start}-${start + into.length - 1}` },
      });
      let filled = 0;
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        filled += chunk.copy(into, filled);
      }
      if (answer.statusCode !== 206 || filled !== into.length) {
        throw new Error(`undici GET: HTTP ${answer.statusCode}, ${filled} bytes`);
      }
    },
  };
}

function putContenders(undici: Client): Record<string, Put> {
  return {
    'lean path: node:http, lent buffers back as the socket takes them': async (url) => {
      await putPart(url, lendingBody(PART_BYTES, 1), PART_BYTES, TIMEOUTS);
    },
    'undici, each lent chunk copied': async (url) => {
      const answer = await undici.request({
        method: 'PUT',
        path: `${url.pathname}${url.search}`,
        body: Readable.from(copiedChunks(lendingBody(PART_BYTES, 2))),
        headers: { 'content-length': String(PART_BYTES) },
      });
      await answer.body.text();
      if (answer.statusCode !== 200) {
        throw new Error(`undici PUT: HTTP ${answer.statusCode}`);
      }
    },
  };
}

// `rounds` rounds (and one to warm up) of every contender in turn.
async function runRounds(
  target: Target,
  object: Buffer,
  contenders: { gets: Record<string, Get>; puts: Record<string, Put> },
  rounds: number,
): Promise<TransportResult['samples']> {
  const samples = { get: {} as Record<string, number[]>, put: {} as Record<string, number[]> };
  for (let round = 0; round <= rounds; round++) {
    for (const [name, get] of Object.entries(contenders.gets)) {
      const url = await target.getUrl();
      const ns = await cpuNsPerByte(OBJECT_BYTES, async () => {
        for (let start = 0; start < OBJECT_BYTES; start += RANGE_BYTES) {
          await get(url, start);
        }
      });
      if (!target.into.equals(object.subarray(OBJECT_BYTES - RANGE_BYTES))) {
        throw new Error(`${name}: not the object's bytes`);
      }
      if (round > 0) {
        (samples.get[name] ??= []).push(ns);
      }
    }
    for (const [name, put] of Object.entries(contenders.puts)) {
      const url = await target.putUrl();
      const ns = await cpuNsPerByte(PART_BYTES, () => put(url));
      if (round > 0) {
        (samples.put[name] ??= []).push(ns);
      }
    }
  }
  return samples;
}

export async function measureTransport(env: Env, rounds: number): Promise<TransportResult> {
  const s3: S3Client = s3Client(env);
  const bucket = env.S3_BUCKET!;
  const key = `${env.S3_KEY_PREFIX ?? 'files/'}bench-transport-${randomBytes(6).toString('hex')}`;
  const object = randomBytes(OBJECT_BYTES);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: object }));
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${key}-parts` }));
  const signer = new S3Presigner({
    endpoint: env.S3_ENDPOINT!,
    bucket,
    region: env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: s3.config.credentials,
    sha256: s3.config.sha256,
  });
  let partNumber = 0;
  const target: Target = {
    into: Buffer.alloc(RANGE_BYTES),
    getUrl: async () =>
      new URL(await signer.presign({ method: 'GET', key, query: { 'x-id': 'GetObject' }, expiresInSeconds: 600 })),
    putUrl: async () =>
      new URL(
        await signer.presign({
          method: 'PUT',
          key: `${key}-parts`,
          query: { partNumber: String(++partNumber), uploadId: upload.UploadId!, 'x-id': 'UploadPart' },
          expiresInSeconds: 600,
        }),
      ),
  };
  const agent = new http.Agent({ keepAlive: true });
  const undici = new Client(env.S3_ENDPOINT!);
  try {
    const contenders = { gets: getContenders(target, agent, undici), puts: putContenders(undici) };
    const samples = await runRounds(target, object, contenders, rounds);
    const medians = (by: Record<string, number[]>): Record<string, number> =>
      Object.fromEntries(Object.entries(by).map(([name, values]) => [name, median(values)]));
    return {
      objectBytes: OBJECT_BYTES,
      rangeBytes: RANGE_BYTES,
      partBytes: PART_BYTES,
      rounds,
      get: medians(samples.get),
      put: medians(samples.put),
      samples,
      partUrls: await measurePartUrls(signer, `${key}-parts`, upload.UploadId!, rounds),
    };
  } finally {
    agent.destroy();
    await undici.close();
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: `${key}-parts`, UploadId: upload.UploadId }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    s3.destroy();
  }
}

export function transportTable(result: TransportResult): string {
  const rows = (by: Readonly<Record<string, number>>): string[] => {
    const [lean, ...others] = Object.entries(by);
    const best = Math.min(...others.map(([, ns]) => ns));
    return [
      `| ${lean![0]} | ${lean![1]} | ${(100 * (1 - lean![1] / best)).toFixed(0)} % less CPU than the next best |`,
      ...others.map(([name, ns]) => `| ${name} | ${ns} | |`),
    ];
  };
  return [
    `\n## Transport: the lean data path beside the kept libraries, the bench process's CPU per byte ` +
      `(median of ${result.rounds} alternating rounds)\n`,
    `GET: a ${formatSize(result.objectBytes)} object in ${formatSize(result.rangeBytes)} ranges into one buffer. ` +
      `PUT: ${formatSize(result.partBytes)} parts from a body lending four 256 KiB buffers.\n`,
    '| GET | ns / B | |',
    '| --- | --- | --- |',
    ...rows(result.get),
    '',
    '| PUT | ns / B | |',
    '| --- | --- | --- |',
    ...rows(result.put),
    '',
    `| ${PART_URLS} UploadPart URLs | µs / URL | |`,
    '| --- | --- | --- |',
    ...rows(result.partUrls),
  ].join('\n');
}

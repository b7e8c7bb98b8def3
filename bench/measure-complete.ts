// npm run measure:complete -- [--size 1GiB] [--part-size 64MiB] [--runs 1]
// Starts the built service as its own process, uploads a file of the given size through presigned
// URLs, and times `complete` while sampling the service's resident memory. Needs `npm run build`
// and the services of `npm run services:up` (their environment, or its defaults).
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { newSession, objectKey, parseSize, s3Client, serviceEnv, startService } from './support.ts';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    'part-size': { type: 'string', default: '64MiB' },
    runs: { type: 'string', default: '1' },
    port: { type: 'string', default: '3999' },
  },
});
const size = parseSize(values.size);
const partSize = parseSize(values['part-size']);
const runs = Number(values.runs);
const baseUrl = `http://127.0.0.1:${values.port}`;

const env = serviceEnv(Number(values.port));

// Part n's bytes, made again on demand so the whole file never sits in memory.
function partBytes(n: number, length: number): Buffer {
  const seed = createHash('sha256').update(`part-${n}`).digest();
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i += 32) {
    seed.copy(buffer, i, 0, Math.min(32, length - i));
    seed[i % 32] = (seed[i % 32]! + 1) & 0xff;
  }
  return buffer;
}

async function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

async function post(path: string, token: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${baseUrl}/koodrive/ose/v1/files/${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  if (answer.code !== 0) {
    throw new Error(`${path} answered ${JSON.stringify(answer)}`);
  }
  return answer;
}

const service = await startService(env);
const redis = new Redis(env.REDIS_URL!);
const s3 = s3Client(env);
try {
  const count = Math.max(1, Math.ceil(size / partSize));
  const plan = Array.from({ length: count }, (_, i) => ({
    partNumber: i + 1,
    partOffset: i * partSize,
    partSize: Math.min(partSize, size - i * partSize),
  }));
  const hash = createHash('sha256');
  for (const part of plan) {
    hash.update(partBytes(part.partNumber, part.partSize));
  }
  const sha256 = hash.digest('hex');

  for (let run = 1; run <= runs; run++) {
    // a container of its own per run: the same content in one container would be a flash upload
    const { token, containerId } = await newSession(redis, 'bench');
    const created = await post('create', token, {
      fileName: `bench-${randomBytes(6).toString('hex')}`,
      length: size,
      sha256,
    });
    const fileId = created.fileId as string;
    const urls = await post('multipart/uploadUrl', token, { fileId, multiParts: plan });
    const parts = urls.multiParts as { partNumber: number; partSize: number; uploadUrl: string }[];
    for (let i = 0; i < parts.length; i += 4) {
      await Promise.all(
        parts.slice(i, i + 4).map(async (part) => {
          const response = await fetch(part.uploadUrl, {
            method: 'PUT',
            body: partBytes(part.partNumber, part.partSize),
          });
          if (!response.ok) {
            throw new Error(`PUT part ${part.partNumber}: ${response.status}`);
          }
        }),
      );
    }
    const before = await rssKiB(service.pid!, 'VmRSS');
    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rssKiB(service.pid!, 'VmRSS'));
        await sleep(20);
      }
    })();
    const started = performance.now();
    const done = await post('complete', token, { fileId });
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    // the local RGW keeps objects in memory: leave nothing behind
    await s3.send(new DeleteObjectCommand({ Bucket: env.S3_BUCKET, Key: objectKey(env, containerId, fileId) }));
    if (done.sha256 !== sha256) {
      throw new Error(`digest mismatch: ${String(done.sha256)} != ${sha256}`);
    }
    console.log(
      JSON.stringify({
        run,
        sizeBytes: size,
        parts: count,
        completeSeconds: Number(seconds.toFixed(3)),
        throughputMBps: Number((size / 1e6 / seconds).toFixed(1)),
        serviceRssBeforeMiB: Math.round(before / 1024),
        serviceRssPeakDuringCompleteMiB: Math.round(peak / 1024),
        serviceVmHwmMiB: Math.round((await rssKiB(service.pid!, 'VmHWM')) / 1024),
      }),
    );
  }
} finally {
  redis.disconnect();
  s3.destroy();
  service.kill('SIGTERM');
}

// The memory table: resident memory (VmRSS from /proc) of a process at idle, after a warm-up upload;
// after --memory-uploads small uploads (100 KiB, 8 at a time, straight to S3); and its peak during
// the complete of a large file read back (VmHWM, its peak reset through /proc/<pid>/clear_refs just
// before; and the highest VmRSS sampled every 20 ms, as a check), for the service (target
// configuration, before and after), the floor (bench/floor.ts, which reads back through the SDK)
// and, at idle only, a bare Fastify process (bench/bare-fastify.ts).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { BenchFile } from './bench-file.ts';
import { type Contender, startProcess } from './contenders.ts';
import { removeUploads } from './cleanup.ts';
import { uploadAndComplete } from './per-byte.ts';
import type { RgwRoom } from '../tools/testing/rgw-room.ts';
import { uploadSmallFiles } from './small-files.ts';
import { loadAverage, processMemoryKiB, serviceEnv, stopService } from './support.ts';

export interface MemoryOptions {
  readonly size: number;
  readonly partSize: number;
  readonly port: number;
  readonly idleSettleMs: number;
  // small uploads before the RSS "after uploads" is read
  readonly smallUploads: number;
}

export interface MemoryRow {
  readonly process: string;
  readonly side: Contender['side'] | null;
  readonly idleRssMiB: number;
  // after MemoryOptions.smallUploads small uploads; null for the bare Fastify process
  readonly afterUploadsRssMiB: number | null;
  // null for the bare Fastify process, which completes nothing
  readonly peakRssDuringCompleteMiB: number | null;
  readonly sampledPeakRssMiB: number | null;
}

export interface MemoryResult {
  readonly completeSizeBytes: number;
  readonly smallUploads: number;
  readonly loadAverage: readonly [number, number];
  readonly partSizeBytes: number;
  readonly rows: readonly MemoryRow[];
}

const mib = (kib: number): number => Number((kib / 1024).toFixed(1));

// Samples a process's VmRSS every 20 ms between start() and stop(); VmHWM reset at start().
class RssWatch {
  readonly pid: number;
  peakKiB = 0;
  hwmKiB = 0;
  private sampling: Promise<void> | undefined;
  private running = false;

  constructor(pid: number) {
    this.pid = pid;
  }

  async beforeComplete(): Promise<void> {
    await writeFile(`/proc/${this.pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
    this.running = true;
    this.peakKiB = await processMemoryKiB(this.pid, 'VmRSS');
    this.sampling = (async () => {
      while (this.running) {
        this.peakKiB = Math.max(this.peakKiB, await processMemoryKiB(this.pid, 'VmRSS'));
        await sleep(20);
      }
    })();
  }

  async afterComplete(): Promise<void> {
    this.running = false;
    await this.sampling;
    this.hwmKiB = await processMemoryKiB(this.pid, 'VmHWM');
  }
}

async function idleRssKiB(pid: number, settleMs: number): Promise<number> {
  await sleep(settleMs);
  return processMemoryKiB(pid, 'VmRSS');
}

async function measureContender(
  contender: Contender,
  redis: Redis,
  room: RgwRoom | null,
  files: { small: BenchFile; large: BenchFile },
  options: MemoryOptions,
): Promise<MemoryRow> {
  const env = serviceEnv(options.port);
  const child = await contender.start(env);
  const service = { baseUrl: `http://127.0.0.1:${options.port}`, pid: child.pid!, redis, env };
  try {
    await uploadAndComplete(service, files.small, 's3');
    const idle = await idleRssKiB(child.pid!, options.idleSettleMs);
    const uploaded = await uploadSmallFiles(service.baseUrl, redis, options.smallUploads, 100 * 1024, {
      via: 's3',
      mode: 'multipart',
      concurrency: 8,
    });
    const afterUploads = await idleRssKiB(child.pid!, options.idleSettleMs);
    await removeUploads(env, uploaded);
    await room?.waitFor(files.large.size);
    const watch = new RssWatch(child.pid!);
    await uploadAndComplete(service, files.large, 's3', watch);
    return {
      process: contender.label,
      side: contender.side,
      idleRssMiB: mib(idle),
      afterUploadsRssMiB: mib(afterUploads),
      peakRssDuringCompleteMiB: mib(watch.hwmKiB),
      sampledPeakRssMiB: mib(watch.peakKiB),
    };
  } finally {
    await stopService(child);
  }
}

async function measureBareFastify(options: MemoryOptions): Promise<MemoryRow> {
  const env = serviceEnv(options.port);
  const child = await startProcess(path.join(import.meta.dirname, 'bare-fastify.ts'), env);
  try {
    return {
      process: 'bare Fastify (bench/bare-fastify.ts)',
      side: null,
      idleRssMiB: mib(await idleRssKiB(child.pid!, options.idleSettleMs)),
      afterUploadsRssMiB: null,
      peakRssDuringCompleteMiB: null,
      sampledPeakRssMiB: null,
    };
  } finally {
    await stopService(child);
  }
}

export async function measureMemory(
  contenders: readonly Contender[],
  redis: Redis,
  room: RgwRoom | null,
  hashing: typeof import('@koodrive/hashing'),
  options: MemoryOptions,
): Promise<MemoryResult> {
  const files = {
    small: BenchFile.prepare(100 * 1024, 100 * 1024, hashing),
    large: BenchFile.prepare(options.size, options.partSize, hashing),
  };
  const rows: MemoryRow[] = [];
  const loadBefore = await loadAverage();
  for (const contender of contenders) {
    rows.push(await measureContender(contender, redis, room, files, options));
  }
  rows.push(await measureBareFastify(options));
  return {
    completeSizeBytes: options.size,
    smallUploads: options.smallUploads,
    loadAverage: [loadBefore, await loadAverage()],
    partSizeBytes: options.partSize,
    rows,
  };
}

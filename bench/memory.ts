// The memory table: resident memory (VmRSS from /proc) of a process at idle, after a warm-up upload,
// and its peak during the complete of a large file read back (VmHWM, its peak reset through
// /proc/<pid>/clear_refs just before; and the highest VmRSS sampled every 20 ms, as a check), for
// the service (target configuration), the floor (bench/floor.ts, which reads back through the
// SDK) and, at idle only, a bare Fastify process (bench/bare-fastify.ts).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { BenchFile } from './bench-file.ts';
import { type Contender, startProcess } from './contenders.ts';
import { uploadAndComplete } from './per-byte.ts';
import type { RgwRoom } from './rgw-room.ts';
import { processMemoryKiB, serviceEnv, stopService } from './support.ts';

export interface MemoryOptions {
  readonly size: number;
  readonly partSize: number;
  readonly port: number;
  readonly idleSettleMs: number;
}

export interface MemoryRow {
  readonly process: string;
  readonly idleRssMiB: number;
  // null for the bare Fastify process, which completes nothing
  readonly peakRssDuringCompleteMiB: number | null;
  readonly sampledPeakRssMiB: number | null;
}

export interface MemoryResult {
  readonly completeSizeBytes: number;
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
    await room?.waitFor(files.large.size);
    const watch = new RssWatch(child.pid!);
    await uploadAndComplete(service, files.large, 's3', watch);
    return {
      process: contender.label,
      idleRssMiB: mib(idle),
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
      idleRssMiB: mib(await idleRssKiB(child.pid!, options.idleSettleMs)),
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
  for (const contender of contenders) {
    rows.push(await measureContender(contender, redis, room, files, options));
  }
  rows.push(await measureBareFastify(options));
  return { completeSizeBytes: options.size, partSizeBytes: options.partSize, rows };
}

// The idle memory table: where an idle service's resident memory goes. The service (target
// configuration) takes one small upload, idles, and is read three ways:
// - /proc: VmRSS, and of it the anonymous and the file-backed pages (smaps_rollup);
// - its /metrics (prom-client's process metrics): the V8 heap committed and used, the young
//   generation's share, external memory (buffers, WASM memories);
// - a heap snapshot (--heapsnapshot-signal), broken down by package (bench/heap-breakdown.ts), with
//   the retained size of the clients worth naming.
// Whatever RSS the heap and external memory do not account for is node and its libraries: code,
// the allocator's arenas, thread stacks.
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { BenchFile } from './bench-file.ts';
import type { Contender } from './contenders.ts';
import { type HeapBreakdown, heapBreakdown } from './heap-breakdown.ts';
import { uploadAndComplete } from './per-byte.ts';
import { metricsUrlOf, processMemoryKiB, serviceEnv, stopService } from './support.ts';

export interface IdleMemory {
  readonly process: string;
  readonly side: Contender['side'];
  readonly rssMiB: number;
  readonly anonymousMiB: number;
  readonly fileBackedMiB: number;
  readonly heapCommittedMiB: number;
  readonly youngGenerationCommittedMiB: number;
  readonly heapUsedMiB: number;
  readonly externalMiB: number;
  readonly snapshot: HeapBreakdown;
}

const mib = (bytes: number): number => Number((bytes / 1024 / 1024).toFixed(1));

// A gauge of prom-client's text exposition, by name and (optionally) one label.
function gauge(text: string, name: string, label?: string): number {
  const line = text
    .split('\n')
    .find((one) => one.startsWith(`koodrive_upload_${name}`) && (label === undefined || one.includes(label)));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

async function smaps(pid: number): Promise<{ anonymousKiB: number; fileKiB: number }> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0);
  return { anonymousKiB: field('Anonymous'), fileKiB: field('Pss_File') };
}

// The snapshot once the process has written all of it (the file appears as it starts): its size no
// longer changes and it parses.
async function whenWritten(file: string): Promise<HeapBreakdown> {
  for (let attempt = 0; ; attempt++) {
    let size = -1;
    for (let now = 0; now === 0 || size !== now;) {
      size = now;
      await sleep(1000);
      now = (await stat(file)).size;
    }
    try {
      return await heapBreakdown(file);
    } catch (error) {
      if (!(error instanceof SyntaxError) || attempt === 30) {
        throw error;
      }
    }
  }
}

export async function measureIdleMemory(
  contender: Contender,
  redis: Redis,
  hashing: typeof import('@koodrive/hashing'),
  options: { readonly port: number; readonly idleSettleMs: number; readonly dir: string },
): Promise<IdleMemory> {
  const dir = path.join(options.dir, `${contender.side}-heap`);
  await mkdir(dir, { recursive: true });
  const env = serviceEnv(options.port);
  const child = await contender.start(env, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`]);
  const service = { baseUrl: `http://127.0.0.1:${options.port}`, pid: child.pid!, redis, env };
  try {
    await uploadAndComplete(service, BenchFile.prepare(100 * 1024, 100 * 1024, hashing), 's3');
    await sleep(options.idleSettleMs);
    const rss = await processMemoryKiB(child.pid!, 'VmRSS');
    const { anonymousKiB, fileKiB } = await smaps(child.pid!);
    const metrics = await (await fetch(metricsUrlOf(env))).text();
    child.kill('SIGUSR2');
    let file: string | undefined;
    for (let i = 0; i < 600 && file === undefined; i++) {
      await sleep(100);
      file = (await readdir(dir)).find((name) => name.endsWith('.heapsnapshot'));
    }
    if (file === undefined) {
      throw new Error(`${contender.label}: no heap snapshot in ${dir}`);
    }
    const snapshot = await whenWritten(path.join(dir, file));
    return {
      process: contender.label,
      side: contender.side,
      rssMiB: mib(rss * 1024),
      anonymousMiB: mib(anonymousKiB * 1024),
      fileBackedMiB: mib(fileKiB * 1024),
      heapCommittedMiB: mib(gauge(metrics, 'nodejs_heap_size_total_bytes')),
      youngGenerationCommittedMiB: mib(gauge(metrics, 'nodejs_heap_space_size_total_bytes', 'space="new"')),
      heapUsedMiB: mib(gauge(metrics, 'nodejs_heap_size_used_bytes')),
      externalMiB: mib(gauge(metrics, 'nodejs_external_memory_bytes')),
      snapshot,
    };
  } finally {
    await stopService(child);
    await rm(dir, { recursive: true, force: true });
  }
}

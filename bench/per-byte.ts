// The per-byte table: the service's CPU time per byte (from /proc, utime + stime) for
// - a read-back: complete of a file whose parts went straight to S3 (no hashCtx), so the service
//   reads the combined file back to prove its SHA-256;
// - a part uploaded through the service: the file's parts PUT to the service's own URLs (parallel
//   mode, each with its hashCtx), which hashes them and streams them on to S3;
// beside SHA-256's own CPU per byte (node:crypto, this thread's CPU time) over the same bytes,
// measured in the same run. Files big enough (256 MiB) that the requests' fixed costs do not count.
// The kernel's part of the service's CPU (stime: socket reads and writes, loopback TCP) is kept
// beside each figure in the JSON.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { BenchFile, type PartTarget } from './bench-file.ts';
import path from 'node:path';
import { type Contender, startProcess } from './contenders.ts';
import type { RgwRoom } from '../tools/testing/rgw-room.ts';
import type { Window } from './profile.ts';
import { removeUploads } from './cleanup.ts';
import { benchApi, type Env, newSession, processCpuSeconds, serviceEnv, stopService } from './support.ts';

export interface PerByteOptions {
  readonly size: number;
  readonly partSize: number;
  readonly runs: number;
  readonly port: number;
  // node flags for the service (--cpu-prof...)
  readonly nodeArgs?: readonly string[];
}

export interface PerByteResult {
  readonly sizeBytes: number;
  readonly partSizeBytes: number;
  readonly runs: number;
  // medians, ns of CPU per byte of the file
  readonly readBackNsPerByte: number;
  readonly throughServiceNsPerByte: number;
  readonly sha256NsPerByte: number;
  // medians of the kernel's part of each (stime), ns per byte
  readonly readBackKernelNsPerByte: number;
  readonly throughServiceKernelNsPerByte: number;
  readonly samples: {
    readonly readBack: readonly number[];
    readonly throughService: readonly number[];
    readonly sha256: readonly number[];
    readonly readBackKernel: readonly number[];
    readonly throughServiceKernel: readonly number[];
  };
  // when the service was reading back, and receiving parts (monotonic µs), for its profile
  readonly windowsUs: { readonly readBack: Window[]; readonly throughService: Window[] };
}

const UPLOAD_CONCURRENCY = 4;

// SHA-256 of the file's bytes, this thread's CPU seconds over the hashing alone.
export function sha256CpuSeconds(file: BenchFile): number {
  const buffer = Buffer.allocUnsafe(file.partSize);
  const hash = createHash('sha256');
  let micros = 0;
  for (const part of file.parts) {
    const bytes = file.fill(part, buffer);
    const before = process.threadCpuUsage();
    hash.update(bytes);
    const used = process.threadCpuUsage(before);
    micros += used.user + used.system;
  }
  if (hash.digest('hex') !== file.sha256) {
    throw new Error('SHA-256 of the bench file is not its digest');
  }
  return micros / 1e6;
}

// The kernel's part of a process's CPU time so far (stime), in seconds.
async function kernelCpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return Number(fields[12]) / 100;
}

export interface ServiceUpload {
  readonly baseUrl: string;
  readonly pid: number;
  readonly redis: Redis;
  readonly env: Env;
}

// Uploads `file` through the API (create, uploadUrl, the parts PUT 4 at a time) and completes it;
// answers the service's CPU seconds over the part PUTs and over the complete, and removes it.
export async function uploadAndComplete(
  service: ServiceUpload,
  file: BenchFile,
  via: 's3' | 'service',
  // what runs just before the complete, and what it answers just after (memory sampling)
  watch: { beforeComplete(): Promise<void>; afterComplete(): Promise<void> } | undefined = undefined,
): Promise<{
  putCpu: number;
  completeCpu: number;
  // of which the kernel's (stime)
  putKernel: number;
  completeKernel: number;
  putUs: Window;
  completeUs: Window;
}> {
  const { token, containerId } = await newSession(service.redis, 'bench');
  const api = benchApi(service.baseUrl, token);
  const created = await api.create({
    fields: { fileName: `bench-${randomBytes(6).toString('hex')}.bin` },
    length: file.size,
    sha256: file.sha256,
  });
  const fileId = created.fileId;
  try {
    // parallel mode through the service (each part hashed from its hashCtx); none straight to S3
    const multiParts = file.parts.map(({ hashCtx, ...part }) => (via === 'service' ? { ...part, hashCtx } : part));
    const targets: PartTarget[] = await api.uploadUrl(fileId, multiParts, via);
    const putFrom = await processCpuSeconds(service.pid);
    const putKernelFrom = await kernelCpuSeconds(service.pid);
    const putFromUs = nowUs();
    await file.upload(targets, UPLOAD_CONCURRENCY);
    const putUs: Window = [putFromUs, nowUs()];
    const putCpu = (await processCpuSeconds(service.pid)) - putFrom;
    const putKernel = (await kernelCpuSeconds(service.pid)) - putKernelFrom;
    await watch?.beforeComplete();
    const completeFrom = await processCpuSeconds(service.pid);
    const completeKernelFrom = await kernelCpuSeconds(service.pid);
    const completeFromUs = nowUs();
    const done = await api.complete(fileId);
    const completeUs: Window = [completeFromUs, nowUs()];
    const completeCpu = (await processCpuSeconds(service.pid)) - completeFrom;
    const completeKernel = (await kernelCpuSeconds(service.pid)) - completeKernelFrom;
    await watch?.afterComplete();
    if (done.sha256 !== file.sha256) {
      throw new Error(`complete answered sha256 ${String(done.sha256)}, expected ${file.sha256}`);
    }
    return { putCpu, completeCpu, putKernel, completeKernel, putUs, completeUs };
  } finally {
    await removeUploads(service.env, [{ fileId, containerId }]);
  }
}

const median = (samples: readonly number[]): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

const nsPerByte = (seconds: number, bytes: number): number => Number(((seconds * 1e9) / bytes).toFixed(3));

// The receiving side's floor (bench/receive-floor.ts): a bare node:http server taking the file's
// parts through the service's part URLs' path and dropping them, its CPU per byte, median of `runs`.
export async function measureReceiveFloor(
  receive: 'stream' | 'reused',
  file: BenchFile,
  options: Pick<PerByteOptions, 'runs' | 'port'>,
): Promise<{ nsPerByte: number; samples: number[] }> {
  const env = serviceEnv(options.port, { RECEIVE: receive });
  const child = await startProcess(path.join(import.meta.dirname, 'receive-floor.ts'), env);
  const targets = file.parts.map(({ partNumber }) => ({
    partNumber,
    uploadUrl: `http://127.0.0.1:${options.port}/parts/${partNumber}`,
  }));
  const samples: number[] = [];
  try {
    // the first requests of a process pay for its warming up
    await file.upload(targets.slice(0, 2), UPLOAD_CONCURRENCY);
    for (let run = 0; run < options.runs; run++) {
      const from = await processCpuSeconds(child.pid!);
      await file.upload(targets, UPLOAD_CONCURRENCY);
      samples.push(nsPerByte((await processCpuSeconds(child.pid!)) - from, file.size));
    }
  } finally {
    await stopService(child);
  }
  return { nsPerByte: median(samples), samples };
}

export async function measurePerByte(
  contender: Contender,
  redis: Redis,
  room: RgwRoom | null,
  hashing: typeof import('@koodrive/hashing'),
  options: PerByteOptions,
): Promise<PerByteResult> {
  const file = BenchFile.prepare(options.size, options.partSize, hashing);
  const env = serviceEnv(options.port);
  const child = await contender.start(env, options.nodeArgs);
  const service = { baseUrl: `http://127.0.0.1:${options.port}`, pid: child.pid!, redis, env };
  const samples = {
    readBack: [] as number[],
    throughService: [] as number[],
    sha256: [] as number[],
    readBackKernel: [] as number[],
    throughServiceKernel: [] as number[],
  };
  const windowsUs = { readBack: [] as Window[], throughService: [] as Window[] };
  try {
    // the first requests of a process pay for its warming up
    await uploadAndComplete(service, BenchFile.prepare(2 * options.partSize, options.partSize, hashing), 'service');
    for (let run = 0; run < options.runs; run++) {
      await room?.waitFor(file.size);
      const straight = await uploadAndComplete(service, file, 's3');
      samples.readBack.push(nsPerByte(straight.completeCpu, file.size));
      samples.readBackKernel.push(nsPerByte(straight.completeKernel, file.size));
      windowsUs.readBack.push(straight.completeUs);
      await room?.waitFor(file.size);
      const through = await uploadAndComplete(service, file, 'service');
      samples.throughService.push(nsPerByte(through.putCpu, file.size));
      samples.throughServiceKernel.push(nsPerByte(through.putKernel, file.size));
      windowsUs.throughService.push(through.putUs);
      samples.sha256.push(nsPerByte(sha256CpuSeconds(file), file.size));
    }
  } finally {
    await stopService(child);
  }
  return { sizeBytes: file.size, partSizeBytes: file.partSize, runs: options.runs, ...fromSamples(samples), windowsUs };
}

// A result's figures, each the median of its samples, and the samples.
export function fromSamples(
  samples: PerByteResult['samples'],
): Omit<PerByteResult, 'sizeBytes' | 'partSizeBytes' | 'runs' | 'windowsUs'> {
  return {
    readBackNsPerByte: median(samples.readBack),
    throughServiceNsPerByte: median(samples.throughService),
    sha256NsPerByte: median(samples.sha256),
    readBackKernelNsPerByte: median(samples.readBackKernel),
    throughServiceKernelNsPerByte: median(samples.throughServiceKernel),
    samples,
  };
}

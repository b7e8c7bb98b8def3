// The cost bench's Markdown: the summary (each figure of issue 28 before and after, beside its floor
// and target, with the load it was measured at) and one table per section.
import { formatSize } from './support.ts';
import type { IdleMemory } from './heap.ts';
import type { MemoryResult } from './memory.ts';
import type { PerByteResult } from './per-byte.ts';
import type { SmallFileResult } from './small-files.ts';

export interface PerByteSection {
  readonly after: PerByteResult;
  readonly before?: PerByteResult;
  // the receiving side's floors (bench/receive-floor.ts), ns/B
  readonly receiveStream: number;
  readonly receiveReused: number;
  readonly loadAverage: readonly [number, number];
}

export interface CostResults {
  readonly small?: SmallFileResult[];
  readonly perByte?: PerByteSection;
  readonly memory?: MemoryResult;
  readonly idle?: IdleMemory[];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const loads = (values: readonly number[]): string =>
  values.length === 0 ? '–' : `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;

// The small-file runs of one contender and mode: the median CPU ms per upload, and the loads.
function smallFigure(
  rows: readonly SmallFileResult[],
  side: string,
  contender: string,
  mode: string,
): { ms: number | null; load: number[] } {
  const mine = rows.filter((row) => row.contender === contender && row.mode === mode && row.label.startsWith(side));
  return {
    ms: mine.length === 0 ? null : round(median(mine.map((row) => row.cpuMsPerUpload))),
    load: mine.flatMap((row) => row.loadAverage),
  };
}

const cell = (value: number | null | undefined): string =>
  value === null || value === undefined ? '–' : String(value);

export function summaryTable(results: CostResults): string {
  const lines = [
    "\n## Summary: issue 28's figures (CPU from /proc; the machine's load average, 1 min, while measured)\n",
    '| figure | before | after | floor | target | load |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const small = results.small ?? [];
  for (const mode of ['multipart', 'put'] as const) {
    const after = smallFigure(small, 'after', 'traced', mode);
    if (after.ms === null) {
      continue;
    }
    const before = smallFigure(small, 'before', 'traced', mode);
    const floor = small.filter((row) => row.contender === 'floor' && row.mode === mode);
    lines.push(
      `| CPU ms per 100 KiB upload, ${mode}, traced over OTLP, logs at info | ${cell(before.ms)} | ${after.ms} | ` +
        `${floor.length === 0 ? '–' : round(median(floor.map((row) => row.cpuMsPerUpload)))} (floor script) | ` +
        `≤ ${mode === 'put' ? 7 : 10} | ${loads([...after.load, ...before.load])} |`,
    );
  }
  const perByte = results.perByte;
  if (perByte !== undefined) {
    const load = loads(perByte.loadAverage);
    lines.push(
      `| part PUT through the service, ns/B | ${cell(perByte.before?.throughServiceNsPerByte)} | ` +
        `${perByte.after.throughServiceNsPerByte} | receive and drop: node:http ${perByte.receiveStream}, ` +
        `reused buffers ${perByte.receiveReused}; SHA-256 ${perByte.after.sha256NsPerByte} | ≤ 2.0 | ${load} |`,
      `| read-back, ns/B | ${cell(perByte.before?.readBackNsPerByte)} | ${perByte.after.readBackNsPerByte} | ` +
        `SHA-256 ${perByte.after.sha256NsPerByte} | ≤ 0.8 | ${load} |`,
    );
  }
  const memory = results.memory;
  if (memory !== undefined) {
    const row = (side: string) => memory.rows.find((one) => one.side === side);
    const floor = memory.rows.find((one) => one.process.startsWith('floor'));
    const load = loads(memory.loadAverage);
    lines.push(
      `| idle RSS, MiB | ${cell(row('before')?.idleRssMiB)} | ${cell(row('after')?.idleRssMiB)} | ` +
        `${cell(floor?.idleRssMiB)} (floor script) | ≤ 160 | ${load} |`,
      `| RSS after ${memory.smallUploads} small uploads, MiB | ${cell(row('before')?.afterUploadsRssMiB)} | ` +
        `${cell(row('after')?.afterUploadsRssMiB)} | ${cell(floor?.afterUploadsRssMiB)} | ≤ 256 | ${load} |`,
      `| peak RSS during a ${formatSize(memory.completeSizeBytes)} complete, MiB | ` +
        `${cell(row('before')?.peakRssDuringCompleteMiB)} | ${cell(row('after')?.peakRssDuringCompleteMiB)} | ` +
        `${cell(floor?.peakRssDuringCompleteMiB)} | ≤ 256 | ${load} |`,
    );
  }
  return lines.join('\n');
}

export function smallTable(rows: readonly SmallFileResult[]): string {
  const first = rows[0]!;
  const lines = [
    `\n## Small files: ${first.uploads} uploads of ${formatSize(first.fileSizeBytes)}, ${first.concurrency} at a time ` +
      '(multipart: create, uploadUrl, one PUT straight to S3, complete; put: create answers the URL)\n',
    '| process | mode | CPU ms / upload | SQL statements / upload | Redis round trips / upload | S3 calls / upload | uploads/s | load |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const pass = row.countingPass.perUpload;
    lines.push(
      `| ${row.label} | ${row.mode} | ${row.cpuMsPerUpload} | ${pass.sqlStatements} | ${pass.redisRoundTrips} | ` +
        `${pass.s3Calls} | ${row.uploadsPerSecond} | ${loads(row.loadAverage)} |`,
    );
  }
  const service = rows.find((row) => row.contender === 'traced' && row.label.startsWith('after'));
  if (service !== undefined) {
    lines.push('', `Per request of the service (after, ${service.mode}; counting pass, one upload at a time):`, '');
    lines.push(
      '| request | SQL statements | by verb | Redis round trips | S3 calls |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const [step, cost] of Object.entries(service.countingPass.perStep)) {
      const verbs = Object.entries(cost.sqlByVerb)
        .map(([verb, n]) => `${verb} ${n}`)
        .join(', ');
      const s3 = Object.entries(cost.s3ByOperation)
        .map(([operation, n]) => `${operation} ${n}`)
        .join(', ');
      lines.push(`| ${step} | ${cost.sqlStatements} | ${verbs || '–'} | ${cost.redisRoundTrips} | ${s3 || '–'} |`);
    }
    if (service.spansPerUpload !== null) {
      lines.push('', `Spans exported per upload (after, traced): ${service.spansPerUpload}`);
    }
  }
  return lines.join('\n');
}

export function perByteTable(section: PerByteSection): string {
  const { after, before } = section;
  const kernel = (result: PerByteResult | undefined, which: 'readBack' | 'throughService'): string =>
    result === undefined
      ? '–'
      : String(which === 'readBack' ? result.readBackKernelNsPerByte : result.throughServiceKernelNsPerByte);
  return [
    `\n## Per byte: the service's CPU per byte of a ${formatSize(after.sizeBytes)} file in ` +
      `${formatSize(after.partSizeBytes)} parts (median of ${after.runs}; load ${loads(section.loadAverage)})\n`,
    '| path | before ns/B | after ns/B | of which the kernel (after) |',
    '| --- | --- | --- | --- |',
    `| read-back (parts straight to S3, complete reads the file back) | ${cell(before?.readBackNsPerByte)} | ` +
      `${after.readBackNsPerByte} | ${kernel(after, 'readBack')} |`,
    `| part PUT through the service (hashed from its hashCtx, streamed to S3) | ` +
      `${cell(before?.throughServiceNsPerByte)} | ${after.throughServiceNsPerByte} | ${kernel(after, 'throughService')} |`,
    `| floor: a bare node:http server receiving the same parts, dropping node's chunks | | ${section.receiveStream} | |`,
    `| floor: the same, reading into reused buffers (request-body.ts) | | ${section.receiveReused} | |`,
    `| SHA-256 alone (node:crypto, the same bytes, this run) | | ${after.sha256NsPerByte} | |`,
  ].join('\n');
}

export function memoryTable(result: MemoryResult): string {
  const lines = [
    `\n## Memory: RSS at idle, after ${result.smallUploads} small uploads, and during a ` +
      `${formatSize(result.completeSizeBytes)} complete (read back); load ${loads(result.loadAverage)}\n`,
    '| process | idle RSS MiB | after uploads MiB | peak RSS during complete MiB (VmHWM) | sampled peak MiB |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const row of result.rows) {
    lines.push(
      `| ${row.process} | ${row.idleRssMiB} | ${cell(row.afterUploadsRssMiB)} | ${cell(row.peakRssDuringCompleteMiB)} | ` +
        `${cell(row.sampledPeakRssMiB)} |`,
    );
  }
  return lines.join('\n');
}

// Where the idle MiB go, each process a column.
export function idleMemoryTable(rows: readonly IdleMemory[]): string {
  const header = `| | ${rows.map((row) => row.side).join(' | ')} |`;
  const line = (name: string, value: (row: IdleMemory) => number | string): string =>
    `| ${name} | ${rows.map((row) => value(row)).join(' | ')} |`;
  const packages = new Map<string, number>();
  for (const row of rows) {
    for (const { name, MiB } of row.snapshot.byPackage) {
      packages.set(name, Math.max(packages.get(name) ?? 0, MiB));
    }
  }
  const top = [...packages.entries()]
    .sort(([, a], [, b]) => b - a)
    .slice(0, 16)
    .map(([name]) => name);
  const byName = (row: IdleMemory, name: string): number =>
    row.snapshot.byPackage.find((entry) => entry.name === name)?.MiB ?? 0;
  const rest = (row: IdleMemory): number =>
    round(
      row.snapshot.byPackage.filter(({ name }) => !top.includes(name)).reduce((sum, { MiB }) => sum + MiB, 0),
      1,
    );
  const instances = [...new Set(rows.flatMap((row) => row.snapshot.instances.map((one) => one.name)))];
  return [
    '\n## Where the idle MiB go (the service, traced, after one upload; `npm run bench -- --only heap`)\n',
    header,
    `| --- | ${rows.map(() => '---').join(' | ')} |`,
    line('RSS (VmRSS)', (row) => row.rssMiB),
    line('  anonymous', (row) => row.anonymousMiB),
    line('  file-backed (node binary, libraries; proportional)', (row) => row.fileBackedMiB),
    line('V8 heap committed', (row) => row.heapCommittedMiB),
    line('  of which the young generation', (row) => row.youngGenerationCommittedMiB),
    line('V8 heap used', (row) => row.heapUsedMiB),
    line('external (buffers, WASM memories)', (row) => row.externalMiB),
    line('rest of the anonymous: allocator, thread stacks, code outside the heap', (row) =>
      round(row.anonymousMiB - row.heapCommittedMiB - row.externalMiB, 1),
    ),
    line('heap snapshot total (after a full GC)', (row) => row.snapshot.totalMiB),
    ...top.map((name) => line(`  ${name}`, (row) => byName(row, name))),
    line('  every other package', rest),
    ...instances.map((name) =>
      line(`retained by each ${name} (count)`, (row) => {
        const found = row.snapshot.instances.find((one) => one.name === name);
        return found === undefined ? '–' : `${found.retainedMiB} (${found.count})`;
      }),
    ),
  ].join('\n');
}

// What `npm run bench` measured, as it is written to bench/results (JSON), printed (Markdown
// tables, ready for the README) and drawn (PNG bar charts).
import { renderBarChartPng } from './chart.ts';
import { formatSize } from './support.ts';

export const METHODS = ['stream', 'pipelined', 'parallel_parts', 'hash_chain'] as const;
export type Method = (typeof METHODS)[number];

export const METHOD_LABELS: Readonly<Record<Method, string>> = {
  stream: 'stream',
  pipelined: 'pipelined',
  parallel_parts: 'parallel by part',
  hash_chain: 'hash chain',
};

export interface PathResult {
  readonly method: Method;
  // the service's environment for this path, on top of the defaults
  readonly env: Readonly<Record<string, string>>;
  readonly completeMs: number;
  // the verify phase alone (koodrive_verification_duration_seconds): HEAD and the read-back
  readonly verifyMs: number;
  // size / complete latency
  readonly verifyMBps: number;
  // size / verify phase: the read-back's throughput, held to the limit
  readonly readBackMBps: number;
  // the limit the path is held to (null for hash_chain, which reads nothing back); ratio: read-back / limit
  readonly limit: { readonly name: string; readonly mbps: number; readonly ratio: number } | null;
  // VmHWM of the service after its runs (hash_chain: the uploads went through it too)
  readonly peakRssMiB: number;
  readonly uploadMBps: number;
  // CPU time per byte of the file (ns/B, medians): the service's during the upload and during the
  // complete, and the local Ceph's (radosgw + ceph-osd) during the complete; null when Ceph is
  // not on this host. On a host where all of them share the cores, this is where the time goes.
  readonly cpuNsPerByte: {
    readonly serviceUpload: number;
    readonly serviceComplete: number;
    readonly storeComplete: number | null;
  };
  readonly samples: {
    readonly completeMs: readonly number[];
    readonly verifyMs: readonly number[];
    readonly uploadSeconds: readonly number[];
  };
}

export interface SizeResult {
  readonly sizeBytes: number;
  readonly parts: number;
  readonly runs: number;
  readonly limits: {
    readonly s3WriteMBps: number;
    // the best of the three reads below
    readonly s3ReadMBps: number;
    // through the SDK (node's HTTP client)
    readonly s3ReadOneGetMBps: number;
    readonly s3ReadRangedMBps: number;
    // through the lean reader the read-backs use, into reused buffers
    readonly s3ReadLeanMBps: number;
  };
  readonly paths: readonly PathResult[];
}

export interface BenchResults {
  readonly date: string;
  readonly node: string;
  readonly cores: number;
  // where the processes ran: all on all cores, or Ceph on a core of its own (--pin-store)
  readonly placement?: string;
  readonly runs: number;
  readonly partSizeBytes: number;
  readonly uploadConcurrency: number;
  readonly sha256: { readonly singleCoreMBps: number; readonly allCoresMBps: number };
  readonly elapsedSeconds: number;
  readonly sizes: readonly SizeResult[];
}

export const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

// three significant figures at most, whole numbers from 100 up
const figure = (value: number): string => (value >= 100 ? value.toFixed(0) : String(Number(value.toPrecision(3))));

function path(size: SizeResult, method: Method): PathResult {
  const found = size.paths.find((p) => p.method === method);
  if (found === undefined) {
    throw new Error(`no ${method} result for ${formatSize(size.sizeBytes)}`);
  }
  return found;
}

// A Markdown table as Prettier lays it out, so it reads as well in a terminal; numeric columns
// right-aligned.
function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const numeric = header.map((_, i) => i > 0 && rows.every((row) => /^[-\d.]/.test(row[i] ?? '-')));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function formatReport(results: BenchResults): string {
  const intro = introOf(results);
  const limits = limitsTable(results);
  const verification = verificationTable(results);
  const uploads = uploadsTable(results);
  const chain = results.sizes
    .map(
      (size) => `${formatSize(size.sizeBytes)} ${figure(path(size, 'hash_chain').completeMs)} ms (${size.parts} parts)`,
    )
    .join(', ');
  return [
    intro,
    '',
    'Limits, measured in the same run:',
    '',
    limits,
    '',
    'Verification (complete, timed at the client):',
    '',
    verification,
    '',
    'Uploads (parallel mode parts: straight to S3 = parallel by part, through the service = hash chain):',
    '',
    uploads,
    '',
    `Hash chain complete latency by size: ${chain}.`,
  ].join('\n');
}

// How the numbers were taken (runs, part size, host) and this host's SHA-256 rate.
function introOf(results: BenchResults): string {
  const runs = results.sizes.every((size) => size.runs === results.runs)
    ? plural(results.runs, 'run')
    : results.sizes.map((size) => `${plural(size.runs, 'run')} for ${formatSize(size.sizeBytes)}`).join(', ');
  return (
    `complete, median of ${runs} (${formatSize(results.partSizeBytes)} parts, ${results.uploadConcurrency} PUTs ` +
    `in flight; ${results.cores} cores, Node ${results.node}; MB/s = 10^6 bytes/s)\n` +
    (results.placement === undefined ? '' : `${results.placement}\n`) +
    `SHA-256 of node:crypto over bytes in memory: ${figure(results.sha256.singleCoreMBps)} MB/s on 1 core, ` +
    `x ${results.cores} cores = ${figure(results.sha256.allCoresMBps)} MB/s`
  );
}

function limitsTable(results: BenchResults): string {
  return markdownTable(
    ['size', 'S3 read MB/s', 'SDK 1 GET', 'SDK 8 x 8 MiB ranges', 'lean 4 x 16 MiB ranges', 'S3 write MB/s'],
    results.sizes.map((size) => [
      formatSize(size.sizeBytes),
      figure(size.limits.s3ReadMBps),
      figure(size.limits.s3ReadOneGetMBps),
      figure(size.limits.s3ReadRangedMBps),
      figure(size.limits.s3ReadLeanMBps),
      figure(size.limits.s3WriteMBps),
    ]),
  );
}

// One row per path, the size named on the first of its group only.
function verificationTable(results: BenchResults): string {
  return markdownTable(
    [
      'size',
      'path',
      'complete ms',
      'size / complete MB/s',
      'verify ms',
      'read-back MB/s',
      'limit MB/s',
      'limit',
      'read-back / limit',
      'service CPU ns/B',
      'Ceph CPU ns/B',
      'peak RSS MiB',
    ],
    results.sizes.flatMap((size) =>
      size.paths.map((p, i) => [
        i === 0 ? formatSize(size.sizeBytes) : '',
        METHOD_LABELS[p.method],
        figure(p.completeMs),
        figure(p.verifyMBps),
        figure(p.verifyMs),
        p.limit === null ? '-' : figure(p.readBackMBps),
        p.limit === null ? '-' : figure(p.limit.mbps),
        p.limit?.name ?? 'none: nothing read back',
        p.limit === null ? '-' : p.limit.ratio.toFixed(2),
        p.cpuNsPerByte.serviceComplete.toFixed(2),
        p.cpuNsPerByte.storeComplete?.toFixed(2) ?? '-',
        figure(p.peakRssMiB),
      ]),
    ),
  );
}

// Straight to S3 is what the parallel by part runs uploaded at, through the service the hash chain
// runs (their parts go through it).
function uploadsTable(results: BenchResults): string {
  return markdownTable(
    [
      'size',
      'S3 plain write MB/s',
      'straight to S3 MB/s',
      'through the service MB/s',
      'service / S3',
      'service CPU ns/B (through it)',
    ],
    results.sizes.map((size) => {
      const direct = path(size, 'parallel_parts').uploadMBps;
      const viaService = path(size, 'hash_chain');
      return [
        formatSize(size.sizeBytes),
        figure(size.limits.s3WriteMBps),
        figure(direct),
        figure(viaService.uploadMBps),
        (viaService.uploadMBps / direct).toFixed(2),
        viaService.cpuNsPerByte.serviceUpload.toFixed(2),
      ];
    }),
  );
}

// Above this many times the tallest other bar, the hash chain's bars are left out of the
// throughput chart (they would flatten every other bar); the latency chart shows them.
const OFF_SCALE = 3;

// Two charts with the same series in the same colours: throughput (size / complete latency, the
// limits as they are) and latency (the limits as the time to read or hash the file at their rate).
export function renderCharts(results: BenchResults): { throughput: Buffer; latency: Buffer } {
  const groups = results.sizes.map((size) => formatSize(size.sizeBytes));
  const runs = [...new Set(results.sizes.map((size) => size.runs))].join('/');
  const limits = [
    { name: 'S3 read limit', mbps: results.sizes.map((size) => size.limits.s3ReadMBps) },
    { name: 'SHA-256 1 core', mbps: results.sizes.map(() => results.sha256.singleCoreMBps) },
  ];
  const paths = METHODS.map((method) => ({
    name: METHOD_LABELS[method],
    mbps: results.sizes.map((size) => path(size, method).verifyMBps),
    ms: results.sizes.map((size) => path(size, method).completeMs),
  }));
  const chain = paths.at(-1)!;
  const tallest = Math.max(...[...limits, ...paths.slice(0, -1)].flatMap((s) => s.mbps));
  const offScale = Math.max(...chain.mbps) > OFF_SCALE * tallest;
  const throughput = renderBarChartPng({
    title: `complete: size / latency, median of ${runs} runs`,
    unit: 'MB/s',
    groups,
    series: [
      ...[...limits, ...paths.slice(0, -1)].map((s) => ({ name: s.name, values: s.mbps })),
      offScale
        ? { name: `${chain.name} (off scale: see the latency chart)`, values: chain.mbps.map(() => null) }
        : { name: chain.name, values: chain.mbps },
    ],
  });
  const msAt = (mbps: readonly number[]): number[] =>
    results.sizes.map((size, i) => round((size.sizeBytes / 1e6 / mbps[i]!) * 1000));
  const latency = renderBarChartPng({
    title: `complete latency, median of ${runs} runs`,
    unit: 'ms',
    groups,
    series: [
      ...limits.map((s) => ({ name: s.name, values: msAt(s.mbps) })),
      ...paths.map((s) => ({ name: s.name, values: s.ms })),
    ],
  });
  return { throughput, latency };
}

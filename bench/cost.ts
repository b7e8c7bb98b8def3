// npm run bench [-- --only small,per-byte,memory] [--uploads 200] [--concurrency 8]
//   [--file-size 100KiB] [--count-uploads 20] [--per-byte-size 256MiB] [--part-size 16MiB]
//   [--runs 3] [--memory-size 1GiB] [--service-root <checkout>] [--profile] [--port 3997]
// npm run bench -- --table-scale [--table-scale-rows 10000000] [--table-scale-requests 30] [--table-scale-runs 5]
// What the service costs, each figure beside its floor, from one run:
// - small files (bench/small-files.ts): CPU ms per upload of --file-size (create, uploadUrl, one
//   PUT straight to S3, complete; --uploads at --concurrency), SQL statements, Redis round trips and
//   S3 calls per upload and uploads/s, for the service traced (OTLP to a local sink, logs at info),
//   quiet (no tracing, logs at warn) and the floor (bench/floor.ts: the same S3 calls and minimum
//   SQL from a bare script), and the ratio of each to the floor;
// - per byte (bench/per-byte.ts): the service's CPU ns per byte of a read-back and of a part PUT
//   through the service, beside SHA-256's own ns/B over the same bytes in the same run;
// - memory (bench/memory.ts): RSS at idle and peak during a --memory-size complete, beside the floor
//   and a bare Fastify.
// Every figure is CPU time from /proc (utime + stime) or a count, so a noisy neighbour slows the run
// without moving its results much. --service-root measures another checkout's built service (a
// before/after); --profile writes each service contender's CPU profile of the small-file window
// (under bench/tmp) and its summary by package (bench/profile.ts). Writes bench/results/<time>-cost.json and .md.
// --table-scale measures instead the files table at scale (bench/table-scale.ts): create, complete and the
// background jobs' batches on an empty table and after --table-scale-rows rows of history, in a
// database of its own; writes bench/results/<time>-table-scale.json and .md.
// The npm script builds first: this runs the built service.
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { CONTENDER_LABELS, contender } from './contenders.ts';
import { type MemoryResult, measureMemory } from './memory.ts';
import { type PerByteResult, measurePerByte } from './per-byte.ts';
import { profileSummary, formatProfileSummary } from './profile.ts';
import { RgwRoom } from './rgw-room.ts';
import { type SmallFileResult, measureSmallFiles } from './small-files.ts';
import { measureTableScale, tableScaleReport } from './table-scale.ts';
import { measureTransport, type TransportResult, transportTable } from './transport.ts';
import { SpanSink } from './span-sink.ts';
import { migrate } from '../tools/db/migrate.ts';
import { type Env, formatSize, importBuilt, parseSize, servicesUp } from './support.ts';

type HashingModule = typeof import('@koodrive/hashing');

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS = path.join(ROOT, 'bench/results');
const SECTIONS = ['small', 'per-byte', 'memory', 'transport'] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: SECTIONS.join(',') },
    uploads: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    'file-size': { type: 'string', default: '100KiB' },
    'count-uploads': { type: 'string', default: '20' },
    'per-byte-size': { type: 'string', default: '256MiB' },
    'part-size': { type: 'string', default: '16MiB' },
    runs: { type: 'string', default: '3' },
    'memory-size': { type: 'string', default: '1GiB' },
    'service-root': { type: 'string', default: ROOT },
    profile: { type: 'boolean', default: false },
    port: { type: 'string', default: '3997' },
    'table-scale': { type: 'boolean', default: false },
    'table-scale-rows': { type: 'string', default: '10000000' },
    'table-scale-requests': { type: 'string', default: '30' },
    'table-scale-runs': { type: 'string', default: '5' },
  },
});
const sections = new Set(values.only.split(',') as Section[]);
for (const section of sections) {
  if (!SECTIONS.includes(section)) {
    throw new Error(`--only takes ${SECTIONS.join(', ')}; got "${section}"`);
  }
}
const whole = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--${name} must be a whole number from 1, got ${value}`);
  }
  return n;
};
const port = whole('port', values.port);
const serviceRoot = path.resolve(values['service-root']);

servicesUp();
const realEnv = process.env as Env;
await migrate(realEnv.DIRECT_DATABASE_URL ?? realEnv.DATABASE_URL!);
const redis = new Redis(realEnv.REDIS_URL!);
if (values['table-scale']) {
  await mkdir(RESULTS, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(':', '-').replaceAll('.', '-');
  try {
    const result = await measureTableScale(
      realEnv,
      redis,
      {
        rows: whole('table-scale-rows', values['table-scale-rows']),
        requests: whole('table-scale-requests', values['table-scale-requests']),
        runs: whole('table-scale-runs', values['table-scale-runs']),
        port,
      },
      (line) => console.error(line),
    );
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    const markdown = tableScaleReport(result, commit);
    await writeFile(
      path.join(RESULTS, `${stamp}-table-scale.json`),
      `${JSON.stringify({ ...result, commit }, null, 2)}\n`,
    );
    await writeFile(path.join(RESULTS, `${stamp}-table-scale.md`), markdown);
    process.stdout.write(markdown);
    console.error(`written: bench/results/${stamp}-table-scale.json and .md`);
  } finally {
    redis.disconnect();
  }
  process.exit(0);
}
const room = RgwRoom.at(path.join(process.env.SERVICES_DIR ?? path.join(ROOT, '.services'), 'ceph/ceph.conf'));
const hashing = await importBuilt<HashingModule>('libs/hashing/src/index.js');
const sink = await SpanSink.start();
const contenders = (['traced', 'quiet', 'floor'] as const).map((name) => contender(name, serviceRoot, sink.endpoint));
const stamp = new Date().toISOString().replaceAll(':', '-').replaceAll('.', '-');
await mkdir(RESULTS, { recursive: true });

const results: {
  started: string;
  serviceRoot: string;
  small?: SmallFileResult[];
  perByte?: PerByteResult;
  memory?: MemoryResult;
  transport?: TransportResult;
} = { started: new Date().toISOString(), serviceRoot };
const report: string[] = [`# npm run bench (${results.started}, ${serviceRoot === ROOT ? 'this tree' : serviceRoot})`];

try {
  if (sections.has('small')) {
    results.small = [];
    for (const one of contenders) {
      // profiles are large: kept under bench/tmp (not committed), their summaries in the report
      const profileDir = path.join(ROOT, 'bench/tmp', `${stamp}-${one.name}-profile`);
      const profiling = values.profile && one.name !== 'floor';
      const { result, windowUs } = await measureSmallFiles({
        contender: one,
        realEnv,
        redis,
        sink,
        options: {
          uploads: whole('uploads', values.uploads),
          concurrency: whole('concurrency', values.concurrency),
          fileSize: parseSize(values['file-size']),
          countUploads: whole('count-uploads', values['count-uploads']),
          via: 's3',
          port,
        },
        nodeArgs: profiling ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      });
      if (profiling) {
        const [file] = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
        const summary = await profileSummary(path.join(profileDir, file!), windowUs);
        report.push(
          `\n### CPU profile of the small-file window, ${CONTENDER_LABELS[one.name]}\n`,
          formatProfileSummary(summary),
        );
        results.small.push({ ...result, profile: path.relative(ROOT, path.join(profileDir, file!)) });
      } else {
        results.small.push(result);
      }
      console.error(`small files, ${one.label}: ${result.cpuMsPerUpload} ms CPU per upload`);
    }
    report.splice(1, 0, smallTable(results.small));
  }
  if (sections.has('per-byte')) {
    const profileDir = path.join(ROOT, 'bench/tmp', `${stamp}-per-byte-profile`);
    results.perByte = await measurePerByte(contenders[0]!, redis, room, hashing, {
      size: parseSize(values['per-byte-size']),
      partSize: parseSize(values['part-size']),
      runs: whole('runs', values.runs),
      port,
      nodeArgs: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    });
    report.push(perByteTable(results.perByte));
    if (values.profile) {
      const [file] = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
      for (const [title, windows] of [
        ['the read-backs', results.perByte.windowsUs.readBack],
        ['the part PUTs through the service', results.perByte.windowsUs.throughService],
      ] as const) {
        const summary = await profileSummary(path.join(profileDir, file!), windows);
        report.push(`\n### CPU profile of ${title}, ${CONTENDER_LABELS.traced}\n`, formatProfileSummary(summary));
      }
    }
  }
  if (sections.has('memory')) {
    results.memory = await measureMemory([contenders[0]!, contenders[2]!], redis, room, hashing, {
      size: parseSize(values['memory-size']),
      partSize: parseSize(values['part-size']),
      port,
      idleSettleMs: 2_000,
    });
    report.push(memoryTable(results.memory));
  }
  if (sections.has('transport')) {
    results.transport = await measureTransport(realEnv, whole('runs', values.runs));
    report.push(transportTable(results.transport));
  }
} finally {
  redis.disconnect();
  await sink.stop();
}

const markdown = `${report.join('\n')}\n`;
await writeFile(path.join(RESULTS, `${stamp}-cost.json`), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(path.join(RESULTS, `${stamp}-cost.md`), markdown);
process.stdout.write(markdown);
console.error(`written: bench/results/${stamp}-cost.json and .md`);

function ratio(value: number, floor: number): string {
  return floor > 0 ? `${(value / floor).toFixed(2)}×` : '–';
}

function smallTable(rows: readonly SmallFileResult[]): string {
  const floor = rows.find((row) => row.contender === 'floor');
  const first = rows[0]!;
  const lines = [
    `\n## Small files: ${first.uploads} uploads of ${formatSize(first.fileSizeBytes)}, ${first.concurrency} at a time ` +
      '(create, uploadUrl, one PUT straight to S3, complete)\n',
    '| process | CPU ms / upload | × floor | SQL statements / upload | Redis round trips / upload (3 API requests) | S3 calls / upload | uploads/s |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const pass = row.countingPass.perUpload;
    lines.push(
      `| ${row.label} | ${row.cpuMsPerUpload} | ${floor === undefined ? '–' : ratio(row.cpuMsPerUpload, floor.cpuMsPerUpload)} ` +
        `| ${pass.sqlStatements} | ${pass.redisRoundTrips} | ${pass.s3Calls} | ${row.uploadsPerSecond} |`,
    );
  }
  const service = rows.find((row) => row.contender === 'traced');
  if (service !== undefined) {
    lines.push('', `Per request of the service (counting pass, one upload at a time):`, '');
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
      lines.push('', `Spans exported per upload (traced): ${service.spansPerUpload}`);
    }
  }
  return lines.join('\n');
}

function perByteTable(result: PerByteResult): string {
  const sha = result.sha256NsPerByte;
  return [
    `\n## Per byte: the service's CPU per byte of a ${formatSize(result.sizeBytes)} file in ` +
      `${formatSize(result.partSizeBytes)} parts (median of ${result.runs})\n`,
    '| path | ns / B | × SHA-256 |',
    '| --- | --- | --- |',
    `| read-back (parts straight to S3, complete reads the file back) | ${result.readBackNsPerByte} | ${ratio(result.readBackNsPerByte, sha)} |`,
    `| part PUT through the service (hashed from its hashCtx, streamed to S3) | ${result.throughServiceNsPerByte} | ${ratio(result.throughServiceNsPerByte, sha)} |`,
    `| SHA-256 alone (node:crypto, the same bytes, this run) | ${sha} | 1.00× |`,
  ].join('\n');
}

function memoryTable(result: MemoryResult): string {
  const lines = [
    `\n## Memory: RSS at idle and during a ${formatSize(result.completeSizeBytes)} complete (read back)\n`,
    '| process | idle RSS MiB | peak RSS during complete MiB (VmHWM) | sampled peak MiB |',
    '| --- | --- | --- | --- |',
  ];
  for (const row of result.rows) {
    lines.push(
      `| ${row.process} | ${row.idleRssMiB} | ${row.peakRssDuringCompleteMiB ?? '–'} | ${row.sampledPeakRssMiB ?? '–'} |`,
    );
  }
  return lines.join('\n');
}

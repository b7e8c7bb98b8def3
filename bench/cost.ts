// npm run bench [-- --only small,per-byte,memory,heap,transport,large] [--large-rounds 5] [--before-root <checkout>]
//   [--service-root <checkout>] [--modes multipart,put] [--small-rounds 2] [--uploads 200]
//   [--concurrency 8] [--file-size 100KiB] [--count-uploads 20] [--per-byte-size 256MiB]
//   [--part-size 16MiB] [--runs 3] [--memory-size 1GiB] [--memory-uploads 1000] [--profile] [--port 3997]
// npm run bench -- --table-scale [--table-scale-rows 10000000] [--table-scale-requests 30] [--table-scale-runs 5]
// What the service costs, each figure beside its floor, before and after, from one run. "after" is
// this tree's built service (or --service-root's), "before" --before-root's (another checkout,
// built): each section measures them in turn, alternating, each in a process of its own.
// - small files (bench/small-files.ts): CPU ms per upload of --file-size (multipart: create,
//   uploadUrl, one PUT straight to S3, complete; put: create answers the URL), --uploads at
//   --concurrency, traced (OTLP to a local sink, logs at info) before and after, the after quiet
//   (no tracing, logs at warn) once, and the floor (bench/floor.ts: the same S3 calls and minimum
//   SQL from a bare script); SQL statements, Redis round trips and S3 calls per upload;
// - per byte (bench/per-byte.ts): CPU ns per byte of a read-back and of a part PUT through the
//   service, beside SHA-256's own and the receiving side's floor (bench/receive-floor.ts: a bare
//   node:http server taking the same parts, node's chunks or reused buffers);
// - memory (bench/memory.ts): RSS at idle, after --memory-uploads small uploads and at the peak of a
//   --memory-size complete, beside the floor and a bare Fastify;
// - heap (bench/heap.ts): where the idle MiB go: RSS, the V8 heap and external memory, and a heap
//   snapshot by package with the clients' retained sizes (bench/heap-breakdown.ts);
// - transport (bench/transport.ts): the lean data path's GET and PUT beside node:http and undici;
// - large (bench/large-requests.ts): service CPU ms of a 10,000-part create and uploadUrl (issue 23),
//   traced (the target configuration) and quiet.
// Every CPU figure is from /proc (the scheduler's nanoseconds per thread, schedstat) or
// process.cpuUsage, with the load average beside it: a noisy neighbour slows the run without moving
// its results much. --profile writes the CPU
// profile of the first round's windows (under bench/tmp) and its summary by package
// (bench/profile.ts). Writes bench/results/<time>-cost.json and .md (not tracked).
// --table-scale measures instead the files table at scale (bench/table-scale.ts): create, complete and the
// background jobs' batches on an empty table and after --table-scale-rows rows of history, in a
// database of its own; writes bench/results/<time>-table-scale.json and .md.
// The npm script builds first: this runs the built service.
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { BenchFile } from './bench-file.ts';
import { type Contender, contender } from './contenders.ts';
import {
  idleMemoryTable,
  memoryTable,
  type PerByteSection,
  perByteTable,
  smallTable,
  summaryTable,
} from './cost-report.ts';
import { type IdleMemory, measureIdleMemory } from './heap.ts';
import { type MemoryResult, measureMemory } from './memory.ts';
import { fromSamples, measurePerByte, measureReceiveFloor, type PerByteResult } from './per-byte.ts';
import { profileSummary, formatProfileSummary } from './profile.ts';
import { RgwRoom } from '../tools/testing/rgw-room.ts';
import { measureSmallFiles, type SmallFileOptions, type SmallFileResult } from './small-files.ts';
import { largeRequestTable, type LargeRequestResult, measureLargeRequests } from './large-requests.ts';
import { measureTableScale, tableScaleReport } from './table-scale.ts';
import { measureTransport, type TransportResult, transportTable } from './transport.ts';
import { SpanSink } from './span-sink.ts';
import { migrate } from '../tools/db/migrate.ts';
import { type Env, importBuilt, loadAverage, parseSize, servicesUp } from './support.ts';

type HashingModule = typeof import('@koodrive/hashing');

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS = path.join(ROOT, 'bench/results');
const SECTIONS = ['small', 'per-byte', 'memory', 'heap', 'transport', 'large'] as const;
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
    'memory-uploads': { type: 'string', default: '1000' },
    modes: { type: 'string', default: 'multipart,put' },
    'small-rounds': { type: 'string', default: '2' },
    'large-rounds': { type: 'string', default: '5' },
    'service-root': { type: 'string', default: ROOT },
    'before-root': { type: 'string' },
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
const stamp = new Date().toISOString().replaceAll(':', '-').replaceAll('.', '-');
await mkdir(RESULTS, { recursive: true });
const beforeRoot = values['before-root'] === undefined ? undefined : path.resolve(values['before-root']);
const service = (name: 'traced' | 'quiet', side: 'before' | 'after'): Contender =>
  contender(name, side === 'after' ? serviceRoot : beforeRoot!, sink.endpoint, side);
const sides = beforeRoot === undefined ? (['after'] as const) : (['before', 'after'] as const);
const floor = contender('floor', serviceRoot, sink.endpoint);
const runs = whole('runs', values.runs);

const results: {
  started: string;
  serviceRoot: string;
  beforeRoot?: string;
  small?: SmallFileResult[];
  perByte?: PerByteSection;
  memory?: MemoryResult;
  idle?: IdleMemory[];
  transport?: TransportResult;
  large?: LargeRequestResult[];
} = { started: new Date().toISOString(), serviceRoot, beforeRoot };
const report: string[] = [
  `# npm run bench (${results.started}; after: ${serviceRoot === ROOT ? 'this tree' : serviceRoot}` +
    `${beforeRoot === undefined ? '' : `; before: ${beforeRoot}`})`,
];

const largeProfileDir = (side: string): string => path.join(ROOT, 'bench/tmp', `${stamp}-${side}-large-profile`);

// A section that fails is said in the report; the others still run.
async function section(name: Section, run: () => Promise<void>): Promise<void> {
  if (!sections.has(name)) {
    return;
  }
  try {
    await run();
  } catch (error) {
    console.error(`${name} failed:`, error);
    report.push(`\n## ${name}: failed\n\n${String(error)}`);
  }
}

try {
  await section('small', async () => {
    results.small = await smallFiles();
    report.push(smallTable(results.small));
  });
  await section('per-byte', async () => {
    results.perByte = await perByte();
    report.push(perByteTable(results.perByte));
  });
  await section('memory', async () => {
    const contenders = [...sides.map((side) => service('traced', side)), floor];
    results.memory = await measureMemory(contenders, redis, room, hashing, {
      size: parseSize(values['memory-size']),
      partSize: parseSize(values['part-size']),
      port,
      idleSettleMs: 2_000,
      smallUploads: whole('memory-uploads', values['memory-uploads']),
    });
    report.push(memoryTable(results.memory));
  });
  await section('heap', async () => {
    results.idle = [];
    for (const side of sides) {
      results.idle.push(
        await measureIdleMemory(service('traced', side), redis, hashing, {
          port,
          idleSettleMs: 2_000,
          dir: path.join(ROOT, 'bench/tmp', stamp),
        }),
      );
    }
    report.push(idleMemoryTable(results.idle));
  });
  await section('transport', async () => {
    results.transport = await measureTransport(realEnv, runs);
    report.push(transportTable(results.transport));
  });
  await section('large', async () => {
    results.large = await measureLargeRequests(
      sides.flatMap((side) => [service('traced', side), service('quiet', side)]),
      redis,
      {
        rounds: whole('large-rounds', values['large-rounds']),
        port,
        nodeArgs: (side) => (values.profile ? ['--cpu-prof', `--cpu-prof-dir=${largeProfileDir(side)}`] : []),
      },
    );
    report.push(largeRequestTable(results.large));
    if (values.profile) {
      for (const side of sides) {
        for (const file of await readdir(largeProfileDir(side))) {
          const summary = await profileSummary(path.join(largeProfileDir(side), file));
          report.push(`\n### Profile of the ${side} service (all rounds)\n\n${formatProfileSummary(summary)}\n`);
        }
      }
    }
  });
} finally {
  redis.disconnect();
  await sink.stop();
}
report.splice(1, 0, summaryTable(results));

const markdown = `${report.join('\n')}\n`;
await writeFile(path.join(RESULTS, `${stamp}-cost.json`), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(path.join(RESULTS, `${stamp}-cost.md`), markdown);
process.stdout.write(markdown);
console.error(`written: bench/results/${stamp}-cost.json and .md`);

// The small-file windows: --small-rounds rounds of every contender (after and before traced, the
// floor; after quiet once), each mode, the order turned around every round.
async function smallFiles(): Promise<SmallFileResult[]> {
  const rows: SmallFileResult[] = [];
  const modes = values.modes.split(',') as SmallFileOptions['mode'][];
  const rounds = whole('small-rounds', values['small-rounds']);
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const line = [...sides.map((side) => service('traced', side)), floor];
      if (round === 0 && mode === 'multipart') {
        line.push(service('quiet', 'after'));
      }
      for (const one of round % 2 === 0 ? line : line.reverse()) {
        rows.push(await smallWindow(one, mode, values.profile && round === 0 && one.name !== 'floor'));
      }
    }
  }
  return rows;
}

async function smallWindow(
  one: Contender,
  mode: SmallFileOptions['mode'],
  profiling: boolean,
): Promise<SmallFileResult> {
  // profiles are large: kept under bench/tmp (not committed), their summaries in the report
  const profileDir = path.join(ROOT, 'bench/tmp', `${stamp}-${one.side}-${one.name}-${mode}-profile`);
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
      mode,
      port,
    },
    nodeArgs: profiling ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  console.error(`small files, ${one.label}, ${mode}: ${result.cpuMsPerUpload} ms CPU per upload`);
  if (!profiling) {
    return result;
  }
  const [file] = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
  const summary = await profileSummary(path.join(profileDir, file!), windowUs);
  report.push(`\n### CPU profile of the small-file window, ${one.label}, ${mode}\n`, formatProfileSummary(summary));
  return { ...result, profile: path.relative(ROOT, path.join(profileDir, file!)) };
}

// Per byte: --runs runs of each side (a process each, alternating), then the receiving floors.
async function perByte(): Promise<PerByteSection> {
  const options = {
    size: parseSize(values['per-byte-size']),
    partSize: parseSize(values['part-size']),
    runs: 1,
    port,
  };
  const loadBefore = await loadAverage();
  const bySide = new Map<string, PerByteResult[]>();
  for (let run = 0; run < runs; run++) {
    for (const side of run % 2 === 0 ? sides : [...sides].reverse()) {
      const profileDir = path.join(ROOT, 'bench/tmp', `${stamp}-per-byte-${side}-${run}-profile`);
      const profiling = values.profile && run === 0;
      const result = await measurePerByte(service('traced', side), redis, room, hashing, {
        ...options,
        nodeArgs: profiling ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      });
      bySide.set(side, [...(bySide.get(side) ?? []), result]);
      console.error(
        `per byte, ${side}: read-back ${result.readBackNsPerByte}, part PUT ${result.throughServiceNsPerByte} ns/B`,
      );
      if (profiling) {
        await perByteProfile(profileDir, result, side);
      }
    }
  }
  const file = BenchFile.prepare(options.size, options.partSize, hashing);
  const stream = await measureReceiveFloor('stream', file, { runs, port });
  const reused = await measureReceiveFloor('reused', file, { runs, port });
  const after = mergeRuns(bySide.get('after')!);
  return {
    after,
    ...(bySide.has('before') ? { before: mergeRuns(bySide.get('before')!) } : {}),
    receiveStream: stream.nsPerByte,
    receiveReused: reused.nsPerByte,
    loadAverage: [loadBefore, await loadAverage()],
  };
}

async function perByteProfile(dir: string, result: PerByteResult, side: string): Promise<void> {
  const [file] = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'));
  for (const [title, windows] of [
    ['the read-backs', result.windowsUs.readBack],
    ['the part PUTs through the service', result.windowsUs.throughService],
  ] as const) {
    const summary = await profileSummary(path.join(dir, file!), windows);
    report.push(`\n### CPU profile of ${title}, ${side}\n`, formatProfileSummary(summary));
  }
}

// Single runs of one side as one result: medians over the runs.
function mergeRuns(results: readonly PerByteResult[]): PerByteResult {
  const all = (pick: (result: PerByteResult) => readonly number[]): number[] => results.flatMap(pick);
  return {
    ...results[0]!,
    runs: results.length,
    ...fromSamples({
      readBack: all((r) => r.samples.readBack),
      throughService: all((r) => r.samples.throughService),
      sha256: all((r) => r.samples.sha256),
      readBackKernel: all((r) => r.samples.readBackKernel),
      throughServiceKernel: all((r) => r.samples.throughServiceKernel),
    }),
    windowsUs: {
      readBack: results.flatMap((r) => r.windowsUs.readBack),
      throughService: results.flatMap((r) => r.windowsUs.throughService),
    },
  };
}

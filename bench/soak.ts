// npm run soak -- [--duration 300] [--concurrency 12] [--replicas 10] [--port 4400] [--max-bytes 1536MiB]
// The replicas' soak (issue 18): --replicas copies of the built service in production mode, on
// the local PostgreSQL, Redis and RGW (a database, koodrive_soak, and a bucket, koodrive-soak, of
// their own), behind Debian's haproxy (round robin, /readyz checks; installed when missing), take
// --concurrency clients uploading for --duration seconds (bench/soak/client.ts: small and medium
// files, parts straight to S3, through the service or both, retried as the contract says). From a
// fifth of the way in, every replica is restarted in turn (SIGTERM, exit, start, ready); at four
// fifths, or once that is over, the busiest replica is SIGKILLed and started again 20 s on
// (bench/soak/chaos.ts); the load lasts until that replica is back. Then it waits for
// lapsed leases to be taken over and checks that nothing was lost (bench/soak/verify.ts), prints
// the figures and writes bench/results/<time>-soak.json and .md; the exit code is 1 when anything
// was lost or given up. Replica logs and the haproxy config go to bench/tmp/<time>-soak/. The
// database, the bucket and the run's Redis keys are removed at the end.
// The npm script builds first: this runs the built service.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type ChaosLog, type ChaosProbes, runChaos } from './soak/chaos.ts';
import { SoakClient, Tallies, type UploadRecord, pickUpload } from './soak/client.ts';
import { Haproxy, ensureHaproxy, haproxyConfig } from './soak/haproxy.ts';
import { Replica, type ReplicaExit } from './soak/replicas.ts';
import { type SoakResult, completeLatency, markdown } from './soak/report.ts';
import { dropDatabase, ensureBucket, freshDatabase, removeBucket } from './soak/stack.ts';
import { settle, verify } from './soak/verify.ts';
import { MIB } from '@koodrive/limits';
import { sessionKey } from '@koodrive/protocol';
import { RgwRoom } from '../tools/testing/rgw-room.ts';
import { type Session, newSession, parseSize, processCpuSeconds, s3Client, serviceEnv, servicesUp } from './support.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const DATABASE = 'koodrive_soak';
const BUCKET = 'koodrive-soak';
const USERS_PER_CLIENT = 4;

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '12' },
    replicas: { type: 'string', default: '10' },
    port: { type: 'string', default: '4400' },
    'max-bytes': { type: 'string', default: '1536MiB' },
  },
});
const options = {
  durationSeconds: Number(values.duration),
  concurrency: Number(values.concurrency),
  replicas: Number(values.replicas),
  maxBytes: parseSize(values['max-bytes']),
};
const PORT = Number(values.port);
const runId = randomBytes(4).toString('hex');
const stamp = new Date().toISOString().replaceAll(':', '-').replaceAll('.', '-');
const workDir = path.join(ROOT, 'bench/tmp', `${stamp}-soak`);

// What the replicas run with beyond the services' addresses: production, and the production
// ConfigMap's (deploy/base/configmap.yaml) leases, waits and shutdown deadline, but the service's
// default drain (5 s, not 10: haproxy takes a draining replica out within 2 s, where Kubernetes
// endpoints take longer); tracing off (no collector here); 4 connections a replica, so that 10
// fit PostgreSQL's 100 beside the other users of the server.
const SETTINGS: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  OTEL_SDK_DISABLED: 'true',
  DATABASE_POOL_SIZE: '4',
  COMPLETE_LEASE_SECONDS: '60',
  COMPLETE_WAIT_SECONDS: '120',
  RECONCILE_INTERVAL_SECONDS: '15',
  REAP_INTERVAL_SECONDS: '60',
  SHUTDOWN_DRAIN_SECONDS: '5',
  SHUTDOWN_TIMEOUT_SECONDS: '120',
};
const LEASE_MS = Number(SETTINGS.COMPLETE_LEASE_SECONDS) * 1000;

// The commit, and the service's files that differ from it (the tree is shared while it runs).
function revision(): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const changed = git('status', '--porcelain', '--', 'apps', 'libs', 'prisma', 'native').split('\n');
  return {
    commit: git('rev-parse', '--short', 'HEAD').trim(),
    uncommitted: changed.filter((line) => line !== '').map((line) => line.slice(3)),
  };
}

// The CPU time of this process's children that have ended and been waited for (cutime + cstime).
async function endedChildrenCpuSeconds(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function loadAverages(): { samples: number[]; stop: () => void } {
  const samples: number[] = [];
  const sample = (): void => {
    readFile('/proc/loadavg', 'utf8').then(
      (text) => samples.push(Number(text.split(' ')[0])),
      () => undefined,
    );
  };
  sample();
  const timer = setInterval(sample, 5000);
  return { samples, stop: () => clearInterval(timer) };
}

// --concurrency clients, each uploading one file after another until `done` says so; the byte
// budget is spread over --duration (`share`: the part of it gone by).
async function runLoad(
  client: SoakClient,
  sessions: readonly Session[],
  share: () => number,
  done: () => boolean,
): Promise<UploadRecord[]> {
  const uploads: UploadRecord[] = [];
  let planned = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      for (let i = 0; !done(); i++) {
        const { length, via } = pickUpload(options.maxBytes * Math.min(1, share()) - planned);
        planned += length;
        uploads.push(await client.upload(sessions[(i * options.concurrency + worker) % sessions.length]!, length, via));
      }
    }),
  );
  return uploads;
}

// What the chaos asks of PostgreSQL, and the upload it plants on the replica it kills (20 MiB, parts
// straight to S3: its complete reads them back, long enough to be caught holding its claim).
function chaosProbes(client: SoakClient, session: Session, planted: Promise<UploadRecord>[]): ChaosProbes {
  return {
    completingNow: async () =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM files WHERE status = 'COMPLETING'`)).rows[0]!.n,
    statusOf: async (fileId) =>
      (await db.query<{ status: string }>('SELECT status FROM files WHERE id = $1', [fileId])).rows[0]?.status,
    plant: (replicaUrl, onCompleteSent) => {
      planted.push(client.upload(session, 20 * MIB, 's3', { replicaUrl, onCompleteSent }));
    },
  };
}

// The load and the chaos together; the load stops at --duration or when the chaos is over, whichever is later.
async function soak(
  replicas: readonly Replica[],
  haproxy: Haproxy,
  sessions: readonly Session[],
  tallies: Tallies,
): Promise<{
  uploads: UploadRecord[];
  chaos: ChaosLog;
  startedAt: number;
  loadSeconds: number;
  clientCpuSeconds: number;
}> {
  const started = performance.now();
  const now = (): number => performance.now() - started;
  const durationMs = options.durationSeconds * 1000;
  const cpuBefore = process.cpuUsage();
  let chaosOver = false;
  const client = new SoakClient(`http://127.0.0.1:${PORT}`, tallies, now);
  const planted: Promise<UploadRecord>[] = [];
  const chaos = runChaos(
    replicas,
    haproxy,
    {
      rollAtMs: durationMs * 0.2,
      killAtMs: durationMs * 0.8,
      killedForMs: Math.min(20_000, durationMs * 0.1),
      leaseMs: LEASE_MS,
    },
    chaosProbes(client, sessions[0]!, planted),
    now,
    started,
  ).finally(() => (chaosOver = true));
  const uploads = await runLoad(
    client,
    sessions,
    () => (now() + 10_000) / durationMs,
    () => chaosOver && now() >= durationMs,
  );
  const loadSeconds = now() / 1000;
  // the planted upload's complete ends once the killed replica's lease has lapsed
  uploads.push(...(await Promise.all(planted)));
  const cpu = process.cpuUsage(cpuBefore);
  return {
    uploads,
    chaos: await chaos,
    startedAt: started,
    loadSeconds,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

const built = revision();
const realEnv = servicesUp();
const haproxyVersion = ensureHaproxy();
await mkdir(workDir, { recursive: true });
const serverUrl = realEnv.DIRECT_DATABASE_URL ?? realEnv.DATABASE_URL!;
const env = serviceEnv(PORT, {
  ...SETTINGS,
  DATABASE_URL: await freshDatabase(serverUrl, DATABASE),
  DATABASE_POOLER: 'none',
  S3_BUCKET: BUCKET,
  PART_URL_SECRET: randomBytes(32).toString('hex'),
  EVENTS_STREAM: `koodrive:soak:${runId}`,
  // the clients reach the replicas through haproxy, on PORT
  PUBLIC_URL: `http://127.0.0.1:${PORT}`,
});
ensureBucket(env, BUCKET);
await RgwRoom.at(path.join(process.env.SERVICES_DIR ?? path.join(ROOT, '.services'), 'ceph/ceph.conf'))?.waitFor(
  options.maxBytes,
);
const redis = new Redis(env.REDIS_URL!);
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
const s3 = s3Client(env);
const replicas = Array.from(
  { length: options.replicas },
  (_, i) => new Replica(`r${i + 1}`, PORT + 10 + 2 * i, env, path.join(workDir, `r${i + 1}.log`)),
);
const sessions: Session[] = [];
const loadAverage = loadAverages();
let haproxy: Haproxy | undefined;
process.exitCode = 1; // until the checks have run and found nothing

try {
  haproxy = await Haproxy.start(workDir, haproxyConfig(PORT, PORT + 1, replicas), PORT + 1);
  const childrenCpuBefore = await endedChildrenCpuSeconds();
  const replicasStarted = performance.now();
  // two at a time: ten Node processes booting at once on two cores outwait any bound
  for (let i = 0; i < replicas.length; i += 2) {
    await Promise.all(replicas.slice(i, i + 2).map((replica) => replica.start()));
  }
  await Promise.all(replicas.map((replica) => haproxy!.waitFor(replica.name, true)));
  for (let i = 0; i < options.concurrency * USERS_PER_CLIENT; i++) {
    sessions.push(await newSession(redis, `soak-${runId}`));
  }
  const uploadsStarted = new Date().toISOString();
  const tallies = new Tallies();
  const run = await soak(replicas, haproxy, sessions, tallies);
  console.error(`soak: load over after ${run.loadSeconds.toFixed(0)} s; waiting for lapsed leases to be taken over`);
  const settled = await settle(db, LEASE_MS + 3 * Number(SETTINGS.RECONCILE_INTERVAL_SECONDS) * 1000 + 30_000);
  const checks = await verify(run.uploads, {
    db,
    redis,
    s3,
    bucket: BUCKET,
    stream: env.EVENTS_STREAM!,
    chaos: run.chaos,
  });
  const haproxyServers = await haproxy.stats();
  const haproxyLog = await haproxy.unusualRequests();
  const haproxyCpu = await processCpuSeconds(haproxy.pid);
  const finalStops: ReplicaExit[] = [];
  for (const replica of replicas) {
    finalStops.push(await replica.stop('SIGTERM', run.startedAt));
  }
  const replicasCpu = (await endedChildrenCpuSeconds()) - childrenCpuBefore;
  const lostNothing = checks.violations.length === 0 && checks.gaveUp.length === 0;
  const loads = loadAverage.samples;
  const result: SoakResult = {
    started: uploadsStarted,
    command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
    ...built,
    node: process.version,
    haproxy: haproxyVersion,
    machine: {
      cores: availableParallelism(),
      loadAverage1m: {
        min: Math.min(...loads),
        mean: Math.round((loads.reduce((sum, load) => sum + load, 0) / loads.length) * 100) / 100,
        max: Math.max(...loads),
      },
    },
    options,
    settings: SETTINGS,
    loadSeconds: run.loadSeconds,
    uploads: {
      attempted: run.uploads.length,
      succeeded: run.uploads.filter((upload) => upload.outcome === 'succeeded').length,
      gaveUp: checks.gaveUp.length,
      perSecond: run.uploads.length / run.loadSeconds,
      bytesSent: tallies.bytes,
      planted: run.uploads.find((upload) => upload.fileId === run.chaos.killed?.planted),
    },
    requests: {
      total: Object.values(tallies.answers).reduce((sum, count) => sum + count, 0),
      retries: tallies.retries,
      byStatus: tallies.byStatus(),
      answers: tallies.answers,
    },
    complete: completeLatency(run.uploads, run.chaos, tallies.completeRequestMs),
    chaos: run.chaos,
    finalStops,
    haproxyServers,
    incidents: tallies.incidents,
    haproxyLog,
    cpuSeconds: {
      replicas: replicasCpu,
      haproxy: haproxyCpu,
      client: run.clientCpuSeconds,
      wallSeconds: (performance.now() - replicasStarted) / 1000,
    },
    settle: settled,
    checks,
    lostNothing,
  };
  const report = markdown(result);
  await mkdir(path.join(ROOT, 'bench/results'), { recursive: true });
  await writeFile(path.join(ROOT, 'bench/results', `${stamp}-soak.json`), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(path.join(ROOT, 'bench/results', `${stamp}-soak.md`), report);
  process.stdout.write(report);
  console.error(`written: bench/results/${stamp}-soak.json and .md; replica logs in ${path.relative(ROOT, workDir)}`);
  process.exitCode = lostNothing ? 0 : 1;
} finally {
  loadAverage.stop();
  await Promise.all(replicas.map((replica) => replica.close()));
  await haproxy?.stop();
  await db.end();
  await dropDatabase(serverUrl, DATABASE);
  console.error(`soak: removed bucket ${BUCKET} (${await removeBucket(s3, BUCKET)} objects)`);
  await redis.del(env.EVENTS_STREAM!, ...sessions.map((session) => sessionKey(session.token)));
  redis.disconnect();
  s3.destroy();
}

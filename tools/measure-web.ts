// npm run measure:web -- <what>: the browser uploader in Debian's Chromium (headless, playwright-core;
// npm run services:up installs it, CHROMIUM_PATH overrides).
//
//   compare [--mib 200] [--runs 1]
//     The page against the CLI, on the same file of random bytes, through the same path, in one run:
//     for each path (parts straight to RGW, parts through the service) the page (the service's GET
//     /upload, the file picked through its file input) and the CLI (`koodrive put --upload-via`)
//     upload it in turn, each as a user of its own (neither is a flash upload of the other's), --runs
//     times. Runs the built service (npm run build first) on the real stack (npm run services:up:
//     DATABASE_URL, REDIS_URL, S3_*), with a bucket of its own whose CORS rule names the service's
//     origin, all removed at the end. Prints a Markdown table of the end-to-end times and rates, each
//     client's own (the page: from its upload row's appearing, once it has the file, to the row's
//     `done`; the CLI: its total, from its start to complete's answer, without node's start-up) and
//     checks every SHA-256 against node:crypto's.
//   hash [--mib 256] [--runs 3]
//     SHA-256 in a Web Worker over a file of random bytes on disk, picked through a file input as a
//     person picks one: with hash-wasm, then with @noble/hashes (the two maintained SHA-256s whose
//     state can be read, for hashCtx), and, for reference only, WebCrypto's one-shot digest (no
//     streaming, no state: of no use for hashCtx). Each read three ways: stream (File.stream(), as
//     apps/web's hashing worker reads it), slices (8 MiB File.slice()s) and memory (the bytes read
//     first, untimed: the hashing alone; MEASURE_SOURCES picks). Prints MB/s (10^6 bytes a second),
//     the best of the runs, and checks every digest against node:crypto's.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import pg from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { MIB } from '@koodrive/limits';
import { SESSION_TTL_SECONDS, sessionKey, UPLOAD_SCOPE } from '@koodrive/protocol';
import type { UploadVia } from '@koodrive/upload-client';
import { RgwRoom } from './testing/rgw-room.ts';
import { buildWeb } from './build-web.ts';
import { migrate } from './db/migrate.ts';
import { LOCAL_SERVICES_ENV } from './services/local-env.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

const mbPerSecond = (bytes: number, ms: number): number => (bytes / 1e6) * (1000 / ms);

// --- compare: the page against the CLI ---------------------------------------------------------

type Env = Record<string, string>;

interface Stack {
  readonly env: Env;
  // the local RGW keeps objects in RAM and frees deleted ones only at its garbage collection: each
  // upload waits for room (as the benches do), or a full OSD would stop every write on the machine
  readonly room: RgwRoom | null;
  readonly baseUrl: string;
  readonly service: ChildProcess;
  readonly redis: Redis;
  readonly containers: string[];
}

// The built service on the real stack, on free ports, with a bucket of its own for the page's origin.
async function startStack(): Promise<Stack> {
  const env: Env = { ...LOCAL_SERVICES_ENV, ...(process.env as Env) };
  const port = 20_000 + Math.floor(Math.random() * 9_000);
  const baseUrl = `http://127.0.0.1:${port}`;
  const bucket = `${env.S3_BUCKET}-measure-web-${randomBytes(3).toString('hex')}`;
  await promisify(execFile)(process.execPath, [join(ROOT, 'tools/services/ensure-bucket.ts')], {
    env: { ...env, S3_BUCKET: bucket, CORS_ORIGINS: baseUrl },
  });
  await migrate(env.DIRECT_DATABASE_URL ?? env.DATABASE_URL!);
  const serviceEnv: Env = {
    ...env,
    S3_BUCKET: bucket,
    PORT: String(port),
    METRICS_PORT: String(port + 1),
    HOST: '127.0.0.1',
    PART_URL_SECRET: randomBytes(24).toString('hex'),
    OTEL_SDK_DISABLED: 'true',
    LOG_LEVEL: 'warn',
  };
  const service = spawn(process.execPath, [join(ROOT, 'dist/apps/upload/src/main.js')], {
    env: serviceEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; (await fetch(`${baseUrl}/readyz`).catch(() => null))?.ok !== true; i++) {
    if (i > 600 || service.exitCode !== null) {
      service.kill();
      throw new Error('the service did not become ready (npm run build first? npm run services:up?)');
    }
    await sleep(100);
  }
  const room = RgwRoom.at(join(env.SERVICES_DIR ?? join(ROOT, '.services'), 'ceph/ceph.conf'));
  return { env: serviceEnv, room, baseUrl, service, redis: new Redis(env.REDIS_URL!), containers: [] };
}

// A user with a session of its own, as KooDrive's session service would write it.
async function newToken(stack: Stack): Promise<string> {
  const token = randomBytes(24).toString('hex');
  const containerId = `measure-web-${randomBytes(6).toString('hex')}`;
  stack.containers.push(containerId);
  await stack.redis.set(
    sessionKey(token),
    JSON.stringify({ userId: containerId, containerId, scopes: [UPLOAD_SCOPE] }),
    'EX',
    SESSION_TTL_SECONDS,
  );
  return token;
}

function s3Of(env: Env): S3Client {
  return new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
}

// The bucket emptied (objects, unfinished multipart uploads): what was measured makes room again.
async function emptyBucket(stack: Stack): Promise<void> {
  const s3 = s3Of(stack.env);
  const Bucket = stack.env.S3_BUCKET;
  try {
    for (const upload of (await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads ?? []) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: upload.Key, UploadId: upload.UploadId }));
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
    const keys = (listed.Contents ?? []).map(({ Key }) => ({ Key }));
    if (keys.length > 0) {
      await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys } }));
    }
  } finally {
    s3.destroy();
  }
}

// The service stopped, its rows, objects and bucket gone.
async function stopStack(stack: Stack): Promise<void> {
  const exited = once(stack.service, 'exit');
  stack.service.kill('SIGTERM');
  await exited;
  stack.redis.disconnect();
  const db = new pg.Client({ connectionString: stack.env.DATABASE_URL });
  await db.connect();
  await db.query('DELETE FROM files WHERE container_id = ANY($1)', [stack.containers]);
  await db.end();
  await emptyBucket(stack);
  const s3 = s3Of(stack.env);
  await s3.send(new DeleteBucketCommand({ Bucket: stack.env.S3_BUCKET }));
  s3.destroy();
}

// When the page's upload row appeared (the page had the file: its own start, as the CLI's total
// starts once it runs) and when it became `done` (performance.now()), recorded in the page.
const RECORD_TIMES = `
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === 'childList' && record.addedNodes.length > 0) globalThis.rowAt ??= performance.now();
      if (record.type === 'attributes' && record.target.getAttribute('data-state') === 'done') {
        globalThis.doneAt ??= performance.now();
      }
    }
  }).observe(document, { attributes: true, attributeFilter: ['data-state'], childList: true, subtree: true });
`;

interface Timed {
  readonly ms: number;
  readonly sha256: string;
}

// The page uploads `file`: ms from its row's appearing (it has the file) to the row's `done`.
async function pageUpload(browser: Browser, stack: Stack, via: UploadVia, file: string): Promise<Timed> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.addInitScript({ content: RECORD_TIMES });
    await page.goto(`${stack.baseUrl}/upload#token=${await newToken(stack)}&via=${via}`);
    await page.setInputFiles('#files', file);
    const row = page.locator('#uploads li[data-state="done"], #uploads li[data-state="failed"]');
    await row.waitFor({ timeout: 900_000 });
    if ((await row.getAttribute('data-state')) !== 'done') {
      throw new Error(`the page's upload failed: ${await row.innerText()}`);
    }
    const [rowAt, doneAt] = await page.evaluate<[number, number]>('[globalThis.rowAt, globalThis.doneAt]');
    return { ms: doneAt - rowAt, sha256: (await row.getAttribute('data-sha256')) ?? '' };
  } finally {
    await context.close();
  }
}

// The CLI uploads `file`: its own total, from its start to complete's answer.
async function cliUpload(stack: Stack, via: UploadVia, file: string): Promise<Timed> {
  const token = await newToken(stack);
  const args = ['put', file, '--url', stack.baseUrl, '--token', token, '--upload-via', via];
  const cli = spawn(process.execPath, [join(ROOT, 'apps/client/bin/koodrive.mjs'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  cli.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  cli.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(cli, 'close')) as [number | null];
  const total = /^timing: .*total ([\d.]+) s$/m.exec(stdout)?.[1];
  const sha256 = /^sha256: (\w+)$/m.exec(stdout)?.[1];
  if (code !== 0 || total === undefined || sha256 === undefined) {
    throw new Error(`the CLI's upload failed (exit ${code}):\n${stdout}${stderr}`);
  }
  return { ms: Number(total) * 1000, sha256 };
}

interface Row {
  readonly via: UploadVia;
  readonly page: Timed[];
  readonly cli: Timed[];
}

function table(rows: readonly Row[], bytes: number): string {
  const rate = (runs: readonly Timed[]): string =>
    runs.map(({ ms }) => `${mbPerSecond(bytes, ms).toFixed(1)} MB/s (${(ms / 1000).toFixed(1)} s)`).join(', ');
  const median = (runs: readonly Timed[]): number => {
    const sorted = runs.map(({ ms }) => ms).sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const lines = ['| path | page (Chromium) | CLI | page ÷ CLI (medians) |', '| --- | --- | --- | --- |'];
  for (const row of rows) {
    const name = row.via === 's3' ? 'parts straight to RGW' : 'parts through the service';
    const ratio = (median(row.cli) / median(row.page)).toFixed(2);
    lines.push(`| ${name} | ${rate(row.page)} | ${rate(row.cli)} | ${ratio}× |`);
  }
  return lines.join('\n');
}

async function compare(mib: number, runs: number): Promise<void> {
  await buildWeb();
  const data = randomBytes(mib * MIB);
  const dir = mkdtempSync(join(tmpdir(), 'koodrive-measure-'));
  const file = join(dir, `random-${mib}MiB.bin`);
  writeFileSync(file, data);
  const expected = createHash('sha256').update(data).digest('hex');
  const load = loadavg()[0]!.toFixed(1);
  const stack = await startStack();
  const browser = await launch();
  const rows: Row[] = [];
  try {
    for (const via of ['s3', 'service'] as const) {
      const row: Row = { via, page: [], cli: [] };
      for (let run = 0; run < runs; run++) {
        await stack.room?.waitFor(2 * data.length);
        row.page.push(await pageUpload(browser, stack, via, file));
        await emptyBucket(stack);
        await stack.room?.waitFor(2 * data.length);
        row.cli.push(await cliUpload(stack, via, file));
        await emptyBucket(stack);
      }
      for (const { sha256 } of [...row.page, ...row.cli]) {
        if (sha256 !== expected) {
          throw new Error(`an upload answered sha256 ${sha256}, node:crypto says ${expected}`);
        }
      }
      rows.push(row);
    }
  } finally {
    await browser.close();
    await stopStack(stack);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `${mib} MiB of random bytes, page (Chromium ${browser.version()}) then CLI, ${runs} run(s) each, ` +
      `end to end; load average ${load} before, ${loadavg()[0]!.toFixed(1)} after; every SHA-256 checked\n`,
  );
  console.log(table(rows, mib * MIB));
}

// --- hash: SHA-256 in a Web Worker -------------------------------------------------------------

// The worker of the hash measurement: one library over the File, read one of three ways.
const HASH_WORKER = `
import { createSHA256 } from 'hash-wasm';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

const SLICE = 8 * 1024 * 1024;

self.onmessage = async (event) => {
  const { file, library, source } = event.data;
  // 'memory': the bytes read first, untimed: the hashing alone
  const bytes = source === 'memory' ? new Uint8Array(await file.arrayBuffer()) : undefined;
  const slice = async (at) =>
    bytes === undefined ? new Uint8Array(await file.slice(at, at + SLICE).arrayBuffer()) : bytes.subarray(at, at + SLICE);
  const started = performance.now();
  let digest;
  if (library === 'webcrypto') {
    digest = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes ?? (await file.arrayBuffer()))));
  } else {
    const hasher = library === 'hash-wasm' ? await createSHA256() : sha256.create();
    if (library === 'hash-wasm') hasher.init();
    if (source === 'stream') {
      for await (const chunk of file.stream()) hasher.update(chunk);
    } else {
      for (let at = 0; at < file.size; at += SLICE) {
        hasher.update(await slice(at));
      }
    }
    digest = library === 'hash-wasm' ? hasher.digest('hex') : bytesToHex(hasher.digest());
  }
  self.postMessage({ ms: performance.now() - started, digest });
};
`;

// The page of the hash measurement: makes the File, runs a worker per library and run.
const HASH_PAGE = `<!doctype html><meta charset="utf-8"><input id="file" type="file"><script type="module">
globalThis.measure = async (library, source) => {
  const worker = new Worker('/worker.js', { type: 'module' });
  const answer = await new Promise((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => reject(new Error(event.message));
    worker.postMessage({ file: document.getElementById('file').files[0], library, source });
  });
  worker.terminate();
  return answer;
};
</script>`;

async function hashServer(): Promise<ReturnType<typeof createServer>> {
  const bundled = await build({
    stdin: { contents: HASH_WORKER, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    write: false,
    logLevel: 'warning',
  });
  const worker = bundled.outputFiles[0]!.text;
  const server = createServer((request, response) => {
    const js = request.url === '/worker.js';
    response.writeHead(200, { 'content-type': js ? 'text/javascript' : 'text/html' }).end(js ? worker : HASH_PAGE);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return server;
}

type Measure = (library: string, source: string) => Promise<{ ms: number; digest: string }>;

async function measureHashing(mib: number, runs: number): Promise<void> {
  const server = await hashServer();
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => 'measure' in globalThis);
    // a file on disk, picked as a person picks one
    const data = randomBytes(mib * MIB);
    const file = join(mkdtempSync(join(tmpdir(), 'koodrive-measure-')), 'random.bin');
    writeFileSync(file, data);
    await page.setInputFiles('#file', file);
    const expected = createHash('sha256').update(data).digest('hex');
    const digests = new Set<string>();
    console.log(
      `SHA-256 of ${mib} MiB in a Web Worker, Chromium ${browser.version()}, best of ${runs}; ` +
        `stream: File.stream() as the uploader reads it, slices: 8 MiB File.slice()s, memory: hashing alone`,
    );
    for (const library of ['hash-wasm', '@noble/hashes', 'webcrypto']) {
      const rates: string[] = [];
      for (const source of (process.env.MEASURE_SOURCES ?? 'stream,slices,memory').split(',')) {
        const times: number[] = [];
        for (let run = 0; run < runs; run++) {
          const { ms, digest } = await page.evaluate<{ ms: number; digest: string }, [string, string]>(
            ([name, from]) => (globalThis as unknown as { measure: Measure }).measure(name, from),
            [library, source],
          );
          times.push(ms);
          digests.add(digest);
        }
        const runsText = times.map((ms) => (ms / 1000).toFixed(2)).join(', ');
        const best = mbPerSecond(mib * MIB, Math.min(...times)).toFixed(1);
        rates.push(`${source} ${best.padStart(7)} MB/s (${runsText} s)`);
      }
      const note = library === 'webcrypto' ? '  [one-shot, no state to read: not usable for hashCtx]' : '';
      console.log(`  ${library.padEnd(14)} ${rates.join('   ')}${note}`);
    }
    if (digests.size !== 1 || !digests.has(expected)) {
      throw new Error(`digests ${[...digests].join(', ')} where node:crypto says ${expected}`);
    }
  } finally {
    await browser.close();
    server.close();
  }
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { mib: { type: 'string' }, runs: { type: 'string' } },
});
const [what] = positionals;
if (what === 'hash') {
  await measureHashing(Number(values.mib ?? 256), Number(values.runs ?? 3));
} else if (what === 'compare') {
  await compare(Number(values.mib ?? 200), Number(values.runs ?? 1));
} else {
  console.error('usage: npm run measure:web -- compare [--mib 200] [--runs 1] | hash [--mib 256] [--runs 3]');
  process.exitCode = 2;
}

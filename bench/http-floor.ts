// The per-byte floor of a part PUT received by node (issue 16, per-byte target 2): a bare node:http
// server, no Nest, Fastify or tracing, receives 16 MiB part PUTs (a warm-up, then 16 of them, 4 at
// a time, as bench/per-byte.ts sends a 256 MiB file through the service) and, by --mode,
//   drop     reads each body and drops it
//   hash     hashes it (the service's Sha256State)
//   put      sends it to RGW as UploadPart with the service's lean writer (stream-put.ts)
//   hashput  both, as the service does
// --ballast n keeps n small objects alive (600000 is a ~95 MB heap, about the service's) to show
// what the heap's size does to the cost. Prints the server process's own CPU (process.cpuUsage)
// per byte received. Needs the built service (`npm run build`) and services:up's environment:
//   node --import ./tools/register-sources.mjs bench/http-floor.ts --mode hashput [--ballast 600000]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { importBuilt } from './support.ts';

type HashingModule = typeof import('@koodrive/hashing');
type StreamPutModule = typeof import('../libs/storage/src/stream-put.ts');
type PresignerModule = typeof import('../libs/storage/src/sigv4-presigner.ts');

const MODES = ['drop', 'hash', 'put', 'hashput'] as const;
type Mode = (typeof MODES)[number];
const PART = 16 * 1024 * 1024;
const PARTS = 16;
const IN_FLIGHT = 4;
const BUCKET = 'koodrive-http-floor';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'hashput' },
    ballast: { type: 'string', default: '0' },
    port: { type: 'string', default: '3988' },
    serve: { type: 'boolean', default: false },
  },
});
const mode = values.mode as Mode;
if (!MODES.includes(mode)) {
  throw new Error(`--mode takes ${MODES.join(', ')}; got "${values.mode}"`);
}
const port = Number(values.port);

if (values.serve) {
  await serve();
} else {
  await measure();
}

// The server: its CPU from /start to /stop, per byte received.
async function serve(): Promise<void> {
  const ballast: object[] = [];
  for (let i = 0; i < Number(values.ballast); i++) {
    ballast.push({ i, s: `x${i}`, a: [i, i + 1] });
  }
  const hashing = await importBuilt<HashingModule>('libs/hashing/src/index.js');
  const { putStream } = await importBuilt<StreamPutModule>('libs/storage/src/stream-put.js');
  const { SigV4Presigner } = await importBuilt<PresignerModule>('libs/storage/src/sigv4-presigner.js');
  const s3 = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true });
  const signer = new SigV4Presigner({
    endpoint: process.env.S3_ENDPOINT!,
    bucket: BUCKET,
    region: await s3.config.region(),
    forcePathStyle: true,
    credentials: () => s3.config.credentials(),
  });
  const key = `floor-${Date.now()}`;
  const uploadId = mode.includes('put')
    ? (await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }))).UploadId
    : undefined;
  let cpu = process.cpuUsage();
  let bytes = 0;
  const receive = async (req: IncomingMessage): Promise<void> => {
    const hash = mode.includes('hash') ? hashing.Sha256State.initial() : null;
    req.pause();
    req.on('data', (chunk: Buffer) => {
      hash?.update(chunk);
      bytes += chunk.length;
    });
    if (mode.includes('put')) {
      const query = { partNumber: req.url!.slice(1), uploadId: uploadId!, 'x-id': 'UploadPart' };
      const url = new URL(await signer.presign({ method: 'PUT', key, query, expiresInSeconds: 300 }));
      await putStream(url, req, Number(req.headers['content-length']), {
        connectTimeoutMs: 3000,
        idleTimeoutMs: 10_000,
      });
    } else {
      req.resume();
      await once(req, 'end');
    }
  };
  const server = createServer((req, res) => {
    if (req.url === '/start') {
      cpu = process.cpuUsage();
      bytes = 0;
      res.end();
    } else if (req.url === '/stop') {
      const used = process.cpuUsage(cpu);
      const perByte = (micros: number): number => (micros * 1000) / bytes;
      res.end(JSON.stringify({ user: perByte(used.user), system: perByte(used.system), bytes }));
      server.close();
    } else {
      receive(req).then(
        () => res.end('ok'),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    }
  });
  server.listen(port, '127.0.0.1', () => console.log('listening'));
  await once(server, 'close');
  if (uploadId !== undefined) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
  }
}

// The client: starts the server in a process of its own, sends the parts, prints its figures.
async function measure(): Promise<void> {
  const s3 = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
  const server = spawn(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--serve', ...process.argv.slice(2)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await once(server.stdout, 'data');
    const base = `http://127.0.0.1:${port}`;
    const part = Buffer.alloc(PART);
    for (let i = 0; i < part.length; i += 4096) {
      part.writeUInt32BE(i, i);
    }
    const put = async (n: number): Promise<void> => {
      const answer = await fetch(`${base}/${n}`, { method: 'PUT', body: part });
      if (!answer.ok) {
        throw new Error(await answer.text());
      }
      await answer.text();
    };
    await put(1); // warm-up
    await fetch(`${base}/start`).then((answer) => answer.text());
    let next = 2;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let n = next++; n <= PARTS + 1; n = next++) {
          await put(n);
        }
      }),
    );
    const figures = JSON.parse(await fetch(`${base}/stop`).then((answer) => answer.text())) as {
      user: number;
      system: number;
    };
    const total = figures.user + figures.system;
    console.log(
      `${mode}, ballast ${values.ballast}: user ${figures.user.toFixed(2)} + system ${figures.system.toFixed(2)} = ` +
        `${total.toFixed(2)} ns/B of the server's CPU`,
    );
    await once(server, 'exit');
  } finally {
    server.kill();
    await s3.send(new DeleteBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
  }
}

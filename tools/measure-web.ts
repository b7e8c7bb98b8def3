// npm run measure:web -- <what>: the browser uploader's throughput in Debian's Chromium (headless,
// playwright-core; npm run services:up installs it, CHROMIUM_PATH overrides).
//
//   hash [--mib 256] [--runs 3]
//     SHA-256 in a Web Worker over a file of random bytes on disk, picked through a file input as a
//     person picks one: with hash-wasm, then with @noble/hashes (the two maintained SHA-256s whose
//     state can be read, for hashCtx), and, for reference only, WebCrypto's one-shot digest (no
//     streaming, no state: of no use for hashCtx). Each read three ways: stream (File.stream(), as
//     apps/web's hashing worker reads it), slices (8 MiB File.slice()s, as it did first) and memory
//     (the bytes read first, untimed: the hashing alone; MEASURE_SOURCES picks). Prints MB/s (10^6
//     bytes a second), the best of the runs, and checks every digest against node:crypto's.
//   upload <page address, #token=…&via=…> [--mib 200]
//     The page at that address (the service's GET /upload) uploads a file of random bytes; prints
//     the hashing and sending time, the end-to-end rate, and checks the shown SHA-256 against
//     node:crypto's. The file stays in the temporary directory printed, for the CLI client to
//     upload the same bytes (npm run client -- put <file>).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { MIB } from '@koodrive/limits';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

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

async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

const mbPerSecond = (bytes: number, ms: number): string => ((bytes / 1e6) * (1000 / ms)).toFixed(1);

async function measureHashing(mib: number, runs: number): Promise<void> {
  const bundled = await build({
    stdin: { contents: HASH_WORKER, resolveDir: resolve(import.meta.dirname, '..'), loader: 'js' },
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
    type Measure = (library: string, source: string) => Promise<{ ms: number; digest: string }>;
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
        rates.push(`${source} ${mbPerSecond(mib * MIB, Math.min(...times)).padStart(7)} MB/s (${runsText} s)`);
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

// Each phase change of the page's upload row (data-state), with its time.
const RECORD_PHASES = `
  globalThis.phases = [];
  new MutationObserver((records) => {
    for (const record of records) {
      globalThis.phases.push([record.target.getAttribute('data-state'), performance.now()]);
    }
  }).observe(document, { attributes: true, attributeFilter: ['data-state'], subtree: true });
`;

function viaOf(address: string): string {
  const via = new URLSearchParams(new URL(address).hash.slice(1)).get('via');
  return via === 's3'
    ? 'parts straight to storage'
    : via === 'service'
      ? 'parts through the service'
      : 'parts as the service decides';
}

async function measureUpload(address: string, mib: number): Promise<void> {
  const data = randomBytes(mib * MIB);
  const file = join(mkdtempSync(join(tmpdir(), 'koodrive-measure-')), `random-${mib}MiB.bin`);
  writeFileSync(file, data);
  const expected = createHash('sha256').update(data).digest('hex');
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.addInitScript({ content: RECORD_PHASES });
    await page.goto(address);
    const started = await page.evaluate<number>('performance.now()');
    await page.setInputFiles('#files', file);
    const row = page.locator('#uploads li[data-state="done"], #uploads li[data-state="failed"]');
    await row.waitFor({ timeout: 600_000 });
    if ((await row.getAttribute('data-state')) !== 'done') {
      throw new Error(`the upload failed: ${await row.innerText()}`);
    }
    const shown = await row.getAttribute('data-sha256');
    if (shown !== expected) {
      throw new Error(`the page shows ${shown}, node:crypto says ${expected}`);
    }
    const phases = await page.evaluate<[string, number][]>('globalThis.phases');
    const at = (phase: string) => phases.find(([name]) => name === phase)?.[1] ?? NaN;
    const hashed = at('uploading') - started;
    const sent = at('completing') - at('uploading');
    const total = at('done') - started;
    console.log(`${mib} MiB from Chromium ${browser.version()} to ${new URL(address).origin} (${viaOf(address)}):`);
    console.log(`  hashing ${(hashed / 1000).toFixed(2)} s (${mbPerSecond(mib * MIB, hashed)} MB/s)`);
    console.log(`  sending ${(sent / 1000).toFixed(2)} s (${mbPerSecond(mib * MIB, sent)} MB/s)`);
    console.log(`  complete ${((at('done') - at('completing')) / 1000).toFixed(2)} s`);
    console.log(`  end to end ${(total / 1000).toFixed(2)} s: ${mbPerSecond(mib * MIB, total)} MB/s`);
    console.log(`  sha256 ${expected} (checked), file left at ${file}`);
  } finally {
    await browser.close();
  }
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { mib: { type: 'string' }, runs: { type: 'string', default: '3' } },
});
const [what, address] = positionals;
if (what === 'hash') {
  await measureHashing(Number(values.mib ?? 256), Number(values.runs));
} else if (what === 'upload' && address !== undefined) {
  await measureUpload(address, Number(values.mib ?? 200));
} else {
  console.error(
    'usage: npm run measure:web -- hash [--mib 256] [--runs 3] | upload <page address#token=…> [--mib 200]',
  );
  process.exitCode = 2;
}

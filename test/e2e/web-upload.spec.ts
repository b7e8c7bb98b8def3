// The browser upload page (apps/web, GET /upload) in a real browser: Debian's Chromium, headless,
// driven by playwright-core, against the built service in its own process on the embedded stack
// (PGlite, local disk, in-process sessions: a newcomer's `npm start`, opened at the address its boot
// prints) and on the real one (PostgreSQL, Redis, Ceph RGW) with parts through the service and
// straight to RGW (the bucket's CORS rule names the page's origin). On each: a 40 MiB file goes up
// with the hash chain (through the service nothing is read back), the bar reaches 100, the page shows
// node:crypto's SHA-256 and a fileId complete knows; a reload mid-upload goes on with only the
// missing parts; a wrong token gets the service's message in the browser's language (en-US, zh-CN);
// a file dropped on the drop zone goes up; the page is usable by keyboard, its fields labelled, its
// bars announced. Screenshots of the finished page go to test-results/ (gitignored).
// Chromium comes from Debian (`npm run services:up` installs it, CHROMIUM_PATH overrides); never a
// downloaded browser. The page must be built (npm test's pretest runs npm run build:web).
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MIB } from '@koodrive/limits';
import { type Browser, chromium, type Page, type Request, type Route } from 'playwright-core';
import { call, closeTestRedis, newUser, sha256Hex, testBytes, until } from '../support/harness.ts';
import { ensureBucket, removeBucket } from '../support/s3.ts';
import { ServiceProcess } from '../support/service-process.ts';

// .out/test/e2e → the repository's root
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SCREENSHOTS = path.join(ROOT, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// what this machine's network needs (shared/notes/real-parts.md): no calls home, no sandbox as root
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
// a bucket of this spec's own, so its CORS rule changes nobody else's
const BUCKET = `${process.env.S3_BUCKET!}-web`;
const PART_ROUTE = '/koodrive/ose/v1/files/multipart/parts/:fileId/:partNumber';
const FILE_SIZE = 40 * MIB;
// the page's default part size (apps/web/src/plan.ts): 40 MiB is 5 parts
const PARTS = 5;
// in the resume scenario, parts let through before the page is reloaded
const SENT_BEFORE_RELOAD = 2;

const INVALID_TOKEN = { 'en-US': 'Invalid access token.', 'zh-CN': '访问令牌无效。' } as const;

interface Stack {
  readonly name: string;
  readonly slug: string;
  // parts through the service: complete proves the digest from their hash chain, reads nothing back
  readonly viaService: boolean;
  // the page's address with its fragment (token, via), for this stack's service
  pageUrl(token?: string): string;
  service(): ServiceProcess;
}

// --- the stacks ------------------------------------------------------------------------------

const embeddedDir = await mkdtemp(path.join(tmpdir(), 'koodrive-web-embedded-'));
let embedded: ServiceProcess;
// the address the embedded boot printed, token in its fragment
let embeddedPage: URL;
let real: ServiceProcess;
let realToken: string;

async function startEmbedded(): Promise<void> {
  // a newcomer's `npm start`: nothing of the test environment, the service's own defaults
  embedded = await ServiceProcess.start({ DATA_DIR: embeddedDir }, 'all');
  const line = await until(
    'the boot prints the upload page',
    () => Promise.resolve(/^KOODRIVE_UPLOAD_PAGE=(\S+)$/m.exec(embedded.output)?.[1]),
    60_000,
  );
  embeddedPage = new URL(line);
}

async function startReal(): Promise<void> {
  await ensureBucket(BUCKET, 'http://127.0.0.1:1');
  real = await ServiceProcess.start({
    S3_BUCKET: BUCKET,
    PART_URL_SECRET: 'a-test-secret-of-at-least-32-chars!!',
    LOG_LEVEL: 'info',
  });
  // the page is served by the service: its origin is the one the bucket lets PUT parts
  await ensureBucket(BUCKET, real.baseUrl);
  realToken = (await newUser()).token;
}

function realPage(via: 'service' | 's3'): (token?: string) => string {
  return (token = realToken) => `${real.baseUrl}/upload#token=${encodeURIComponent(token)}&via=${via}`;
}

const STACKS: Stack[] = [
  {
    name: 'the embedded stack (PGlite, local disk), parts through the service',
    slug: 'embedded',
    viaService: true,
    pageUrl: (token) => {
      if (token === undefined) {
        return embeddedPage.href;
      }
      return `${embeddedPage.origin}${embeddedPage.pathname}#token=${encodeURIComponent(token)}`;
    },
    service: () => embedded,
  },
  {
    name: 'the real stack, parts through the service',
    slug: 'real-service',
    viaService: true,
    pageUrl: realPage('service'),
    service: () => real,
  },
  {
    name: 'the real stack, parts straight to Ceph RGW (bucket CORS)',
    slug: 'real-s3',
    viaService: false,
    pageUrl: realPage('s3'),
    service: () => real,
  },
];

// --- helpers ---------------------------------------------------------------------------------

// The sum of a counter's samples whose labels include all of `labels`.
async function counter(service: ServiceProcess, name: string, labels: Readonly<Record<string, string>> = {}) {
  const text = await (await fetch(service.metricsUrl)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) {
      continue;
    }
    const has = Object.entries(labels).every(([label, value]) => match[2]?.includes(`${label}="${value}"`) === true);
    sum += has ? Number(match[3]) : 0;
  }
  return sum;
}

const partPuts = (service: ServiceProcess) =>
  counter(service, 'koodrive_http_requests_total', { route: PART_ROUTE, method: 'PUT', status: '200' });

let browser: Browser;
let workDir: string;
let seed = 1900;

// A file of bytes no other upload of this run has (the same bytes again would be a flash upload:
// the container already holds them, nothing is sent), on disk for the file input.
async function freshFile(name: string, size: number): Promise<{ path: string; data: Buffer }> {
  const data = testBytes(size, seed++);
  const file = path.join(await mkdtemp(path.join(workDir, 'file-')), name);
  await writeFile(file, data);
  return { path: file, data };
}

// Scripts run in the page, as source text (this project's TypeScript has Node's types, not the DOM's);
// none through waitForFunction, which evaluates its text in the page, where the page's CSP forbids it.
// Every aria-valuenow the bars take, in order (the page's own script sets them), into progressSeen.
const RECORD_PROGRESS = `
  globalThis.progressSeen = [];
  new MutationObserver((records) => {
    for (const record of records) {
      globalThis.progressSeen.push(Number(record.target.getAttribute('aria-valuenow')));
    }
  }).observe(document, { attributes: true, attributeFilter: ['aria-valuenow'], subtree: true });
`;
const ROW_ENDED = ['done', 'failed', 'cancelled'].map((state) => `#uploads li[data-state="${state}"]`).join(', ');
// the parts the page's IndexedDB records as sent, over every unfinished upload
const RECORDED_PARTS = `new Promise((resolve, reject) => {
  const opened = indexedDB.open('koodrive-upload', 1);
  opened.onerror = () => reject(opened.error);
  opened.onsuccess = () => {
    const db = opened.result;
    const all = db.transaction('uploads').objectStore('uploads').getAll();
    all.onsuccess = () => {
      db.close();
      resolve(all.result.flatMap((record) => record.done));
    };
    all.onerror = () => reject(all.error);
  };
})`;

// A page in a context of its own (its own IndexedDB), with `locale` as the browser's language; the
// context is closed after `use`, which must leave no script error on the page.
async function withPage(locale: 'en-US' | 'zh-CN', use: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext({ locale, viewport: { width: 1000, height: 720 } });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.addInitScript({ content: RECORD_PROGRESS });
    await use(page);
    assert.deepEqual(problems, [], 'no script errors on the page');
  } finally {
    await context.close();
  }
}

interface RowData {
  readonly state: string | null;
  readonly code: string | null;
  readonly sha256: string | null;
  readonly resumedParts: string | null;
  readonly uploadedParts: string | null;
}

// The row of the page's only upload once it has ended (done, failed, cancelled).
async function finished(page: Page): Promise<RowData> {
  await page.waitForSelector(ROW_ENDED, { timeout: 240_000 });
  const row = page.locator('#uploads li');
  const [state, code, sha256, resumedParts, uploadedParts] = await Promise.all(
    ['state', 'code', 'sha256', 'resumed-parts', 'uploaded-parts'].map((name) => row.getAttribute(`data-${name}`)),
  );
  return { state: state!, code: code!, sha256: sha256!, resumedParts: resumedParts!, uploadedParts: uploadedParts! };
}

function recordedParts(page: Page): Promise<number[]> {
  return page.evaluate<number[]>(RECORDED_PARTS);
}

const isPartPut = (request: Request) =>
  request.method() === 'PUT' && (request.url().includes('/multipart/parts/') || request.url().includes('uploadId='));

// --- the tests -------------------------------------------------------------------------------

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `no Chromium at ${CHROMIUM}: npm run services:up installs Debian's (apt-get install chromium)`,
  );
  workDir = await mkdtemp(path.join(tmpdir(), 'koodrive-web-files-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  // one after the other: each is closed by `after` whatever failed next (and two boots at once on a
  // busy machine can pass ServiceProcess's deadline)
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  await startEmbedded();
  await startReal();
});

after(async () => {
  await browser?.close();
  await embedded?.stop();
  await real?.stop();
  await closeTestRedis();
  await removeBucket(BUCKET).catch(() => undefined);
  await rm(embeddedDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

for (const stack of STACKS) {
  describe(`the browser upload page on ${stack.name}`, () => {
    it('uploads a 40 MiB file: the bar reaches 100, the page shows the SHA-256 of node:crypto and the fileId', async () => {
      const service = stack.service();
      const chainBefore = await counter(service, 'koodrive_verifications_total', { method: 'hash_chain' });
      const readBackBefore = await counter(service, 'koodrive_verified_bytes_total');
      const putsBefore = await partPuts(service);
      const big = await freshFile('forty-mebibytes.bin', FILE_SIZE);
      await withPage('en-US', async (page) => {
        await page.goto(stack.pageUrl());
        await page.setInputFiles('#files', big.path);
        const row = await finished(page);
        const expected = sha256Hex(big.data);
        assert.equal(row.state, 'done', await page.locator('#uploads li').innerText());
        assert.equal(await page.locator('#uploads li .sha256').innerText(), expected);
        assert.equal(row.sha256, expected);
        assert.equal(row.uploadedParts, String(PARTS), 'every part sent (no flash upload)');
        const fileId = await page.locator('#uploads li .file-id').innerText();
        assert.match(fileId, /^[A-Za-z0-9]{16,}$/);
        // progress: from below 100 to 100, never backwards, 100 only at the end
        const seen = await page.evaluate<number[]>('globalThis.progressSeen');
        assert.ok(
          seen.some((value) => value > 0 && value < 100),
          `intermediate progress: ${seen.join(' ')}`,
        );
        assert.deepEqual(
          [...seen].sort((a, b) => a - b),
          seen,
          'never backwards',
        );
        assert.equal(seen.indexOf(100), seen.length - 1);
        assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
        await page.screenshot({ path: path.join(SCREENSHOTS, `web-upload-${stack.slug}.png`), fullPage: true });

        // the service knows the file by that fileId, with that digest
        const token = new URLSearchParams(new URL(stack.pageUrl()).hash.slice(1)).get('token')!;
        const again = await call(service.baseUrl, 'complete', { fileId }, { token });
        assert.equal(again.body.code, 0, JSON.stringify(again.body));
        assert.equal(again.body.sha256, expected);
        assert.equal(again.body.length, FILE_SIZE);
        if (stack.viaService) {
          assert.equal(await partPuts(service), putsBefore + PARTS, 'every part through the service');
          assert.equal(
            await counter(service, 'koodrive_verifications_total', { method: 'hash_chain' }),
            chainBefore + 1,
          );
          assert.equal(await counter(service, 'koodrive_verified_bytes_total'), readBackBefore, 'nothing read back');
        } else {
          // parts given URLs straight to storage may have been replaced there: read back (API.md)
          assert.equal(await partPuts(service), putsBefore, 'no part through the service');
          assert.equal(await counter(service, 'koodrive_verifications_total', { method: 'hash_chain' }), chainBefore);
          assert.equal(await counter(service, 'koodrive_verified_bytes_total'), readBackBefore + FILE_SIZE);
        }
      });
    });

    it('goes on after a reload mid-upload with only the missing parts', async () => {
      const service = stack.service();
      const putsBefore = await partPuts(service);
      // PUTs the browser sent on (the first SENT_BEFORE_RELOAD parts, then all after the reload)
      const sent: string[] = [];
      const held: Route[] = [];
      const big = await freshFile('forty-mebibytes.bin', FILE_SIZE);
      await withPage('en-US', async (page) => {
        await page.route('**/*', async (route) => {
          if (!isPartPut(route.request())) {
            await route.fallback();
          } else if (sent.length < SENT_BEFORE_RELOAD) {
            sent.push(route.request().url());
            await route.continue();
          } else {
            // never sent: the reload cuts it off
            held.push(route);
          }
        });
        await page.goto(stack.pageUrl());
        await page.setInputFiles('#files', big.path);
        await until(
          'two parts are recorded as sent',
          async () => ((await recordedParts(page)).length === SENT_BEFORE_RELOAD ? true : undefined),
          60_000,
        );
        assert.ok(held.length > 0, 'the other parts were waiting');
        await page.reload();
        await page.unrouteAll({ behavior: 'ignoreErrors' });
        const after: string[] = [];
        page.on('requestfinished', (request) => {
          if (isPartPut(request)) {
            after.push(request.url());
          }
        });
        assert.match(await page.locator('#unfinished').innerText(), /forty-mebibytes\.bin: 2 of 5 parts sent/);
        await page.setInputFiles('#files', big.path);
        const row = await finished(page);
        assert.equal(row.state, 'done', await page.locator('#uploads li').innerText());
        assert.equal(row.sha256, sha256Hex(big.data));
        assert.equal(row.resumedParts, String(SENT_BEFORE_RELOAD));
        assert.equal(row.uploadedParts, String(PARTS - SENT_BEFORE_RELOAD));
        assert.equal(after.length, PARTS - SENT_BEFORE_RELOAD, 'only the missing parts, once each');
        assert.equal(new Set([...sent, ...after].map((url) => partNumberOf(url))).size, PARTS);
        if (stack.viaService) {
          // counted at the service: two before the reload, three after
          assert.equal(await partPuts(service), putsBefore + PARTS);
        }
        assert.deepEqual(await recordedParts(page), [], 'nothing left unfinished');
      });
    });

    it('reads a file once when it is not hashed first: create without the SHA-256, complete with it; a reload mid-stream goes on with only the missing parts', async () => {
      const service = stack.service();
      const putsBefore = await partPuts(service);
      const chainBefore = await counter(service, 'koodrive_verifications_total', { method: 'hash_chain' });
      const readBackBefore = await counter(service, 'koodrive_verified_bytes_total');
      // the page hashes files up to 64 MiB first; hashFirstUpTo=0 has it read this one once
      const address = `${stack.pageUrl()}&hashFirstUpTo=0`;
      const bodies: Record<string, Record<string, unknown>[]> = { create: [], complete: [] };
      const sent: string[] = [];
      const held: Route[] = [];
      const big = await freshFile('streamed.bin', FILE_SIZE);
      await withPage('en-US', async (page) => {
        page.on('request', (request) => {
          const endpoint = /\/files\/(create|complete)$/.exec(request.url())?.[1];
          if (endpoint !== undefined) {
            bodies[endpoint]!.push(JSON.parse(request.postData() ?? '{}') as Record<string, unknown>);
          }
        });
        await page.route('**/*', async (route) => {
          if (!isPartPut(route.request())) {
            await route.fallback();
          } else if (sent.length < SENT_BEFORE_RELOAD) {
            sent.push(route.request().url());
            await route.continue();
          } else {
            held.push(route);
          }
        });
        await page.goto(address);
        await page.setInputFiles('#files', big.path);
        await until(
          'two parts are recorded as sent',
          async () => ((await recordedParts(page)).length === SENT_BEFORE_RELOAD ? true : undefined),
          60_000,
        );
        await page.reload();
        await page.unrouteAll({ behavior: 'ignoreErrors' });
        const after: string[] = [];
        page.on('requestfinished', (request) => {
          if (isPartPut(request)) {
            after.push(request.url());
          }
        });
        assert.match(await page.locator('#unfinished').innerText(), /streamed\.bin: 2 of 5 parts sent/);
        await page.setInputFiles('#files', big.path);
        const row = await finished(page);
        const expected = sha256Hex(big.data);
        assert.equal(row.state, 'done', await page.locator('#uploads li').innerText());
        assert.equal(row.sha256, expected);
        assert.equal(row.resumedParts, String(SENT_BEFORE_RELOAD));
        assert.equal(row.uploadedParts, String(PARTS - SENT_BEFORE_RELOAD));
        assert.equal(after.length, PARTS - SENT_BEFORE_RELOAD, 'only the missing parts, once each');
        assert.equal(new Set([...sent, ...after].map((url) => partNumberOf(url))).size, PARTS);
        // one create, before the file was hashed: no SHA-256 in it; complete brought it
        assert.equal(bodies.create!.length, 1);
        assert.equal('sha256' in bodies.create![0]!, false, JSON.stringify(bodies.create![0]));
        assert.deepEqual(
          bodies.complete!.map((body) => body.sha256),
          [expected],
        );
        if (stack.viaService) {
          // every part through the service with its hashCtx: the hash chain proves the file
          assert.equal(await partPuts(service), putsBefore + PARTS);
          assert.equal(
            await counter(service, 'koodrive_verifications_total', { method: 'hash_chain' }),
            chainBefore + 1,
          );
          assert.equal(await counter(service, 'koodrive_verified_bytes_total'), readBackBefore, 'nothing read back');
        }
        assert.deepEqual(await recordedParts(page), [], 'nothing left unfinished');
      });
    });

    for (const locale of ['en-US', 'zh-CN'] as const) {
      it(`shows the service's message for a wrong token in the browser's language (${locale})`, async () => {
        await withPage(locale, async (page) => {
          await page.goto(stack.pageUrl('not-a-valid-token-at-all'));
          assert.equal(await page.locator('html').getAttribute('lang'), locale);
          assert.equal(await page.title(), locale === 'zh-CN' ? '上传到 KooDrive' : 'Upload to KooDrive');
          await page.setInputFiles('#files', { name: 'small.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') });
          const row = await finished(page);
          assert.equal(row.state, 'failed');
          assert.equal(row.code, '13000901');
          const result = await page.locator('#uploads li .result').innerText();
          assert.ok(result.includes(INVALID_TOKEN[locale]), result);
          assert.ok(result.startsWith(locale === 'zh-CN' ? '错误 13000901' : 'error 13000901'), result);
          if (locale === 'zh-CN') {
            assert.equal(await page.getByLabel('访问令牌').count(), 1);
            await page.screenshot({ path: path.join(SCREENSHOTS, `web-upload-${stack.slug}-zh-CN-error.png`) });
          }
        });
      });
    }

    it('uploads a file dropped on the drop zone', async () => {
      const first = seed++ & 0xff;
      const data = Buffer.from(Array.from({ length: 100 * 1024 + 7 }, (_, index) => (index * 31 + first) & 0xff));
      await withPage('en-US', async (page) => {
        await page.goto(stack.pageUrl());
        // what a browser hands the page when a file is dropped: a DataTransfer holding it
        const transfer = await page.evaluateHandle(`(() => {
          const bytes = new Uint8Array(${data.length});
          for (let index = 0; index < bytes.length; index++) bytes[index] = (index * 31 + ${first}) & 0xff;
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], 'dropped.bin'));
          return transfer;
        })()`);
        await page.dispatchEvent('#drop', 'dragover', { dataTransfer: transfer });
        assert.equal(await page.locator('#drop.over').count(), 1, 'the zone shows it would take the file');
        await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
        const row = await finished(page);
        assert.equal(row.state, 'done', await page.locator('#uploads li').innerText());
        assert.equal(row.sha256, sha256Hex(data));
        assert.equal(await page.locator('#uploads li .name').innerText(), 'dropped.bin (100.0 KiB)');
        assert.equal(await page.locator('#drop.over').count(), 0);
      });
    });

    it('is usable by keyboard: labelled fields in order, the file chooser opened by a key, a labelled progressbar', async () => {
      await withPage('en-US', async (page) => {
        await page.goto(stack.pageUrl());
        // listening from the start: Playwright takes over the chooser dialog before any key is pressed
        const chooserOpened = page.waitForEvent('filechooser', { timeout: 60_000 });
        chooserOpened.catch(() => undefined);
        // every control has an accessible name
        await assertLabelled(page, 'Access token', 'token');
        await assertLabelled(page, 'Send parts', 'via');
        await assertLabelled(page, 'Choose files', 'files');
        // Tab walks token → via → file input; a key on the file input opens the chooser
        await page.keyboard.press('Tab');
        assert.equal(await focusedId(page), 'token');
        await page.keyboard.press('Tab');
        assert.equal(await focusedId(page), 'via');
        await page.keyboard.press('Tab');
        assert.equal(await focusedId(page), 'files');
        await page.keyboard.press('Space');
        const chooser = await chooserOpened;
        assert.ok(chooser.isMultiple(), 'several files at once');
        const data = testBytes(6 * MIB + 17, seed++);
        await chooser.setFiles({ name: 'keyboard.bin', mimeType: 'application/octet-stream', buffer: data });
        const bar = page.getByRole('progressbar', { name: 'Upload of keyboard.bin' });
        assert.equal(await bar.getAttribute('aria-valuemin'), '0');
        assert.equal(await bar.getAttribute('aria-valuemax'), '100');
        const row = await finished(page);
        assert.equal(row.state, 'done');
        assert.equal(row.sha256, sha256Hex(data));
        assert.equal(await bar.getAttribute('aria-valuenow'), '100');
        assert.match((await bar.getAttribute('aria-valuetext')) ?? '', /^100 %/);
        // the result line is announced (a live region)
        assert.equal(await page.locator('#uploads li .result').getAttribute('aria-live'), 'polite');
        // its Cancel button, done with, is named for its file and out of the way
        const cancel = page.getByRole('button', { name: 'Cancel the upload of keyboard.bin' });
        assert.equal(await cancel.isDisabled(), true);
      });
    });
  });
}

async function assertLabelled(page: Page, label: string, id: string): Promise<void> {
  const byLabel = page.getByLabel(label, { exact: true });
  assert.equal(await byLabel.count(), 1, label);
  assert.equal(await byLabel.getAttribute('id'), id, label);
}

function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate<string | undefined>('document.activeElement?.id');
}

// a service part URL's /parts/<fileId>/<n>, or an S3 URL's partNumber=<n>
function partNumberOf(url: string): number {
  const parsed = new URL(url);
  return Number(parsed.searchParams.get('partNumber') ?? parsed.pathname.split('/').pop());
}

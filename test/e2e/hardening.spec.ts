// What an outside review broke, each against the built service: slow and stalled clients are cut
// off and their descriptors returned; one PUT of a part at a time and a cap per user; any
// Content-Type on a part; forwarded headers believed only from TRUST_PROXY; signatures in one form
// and never in a log; deep JSON refused; file names that hide or reorder characters refused; the
// container's quota.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  call,
  closeTestDb,
  closeTestRedis,
  fileRow,
  newUser,
  type TestUser,
  testBytes,
  testDb,
  testRedis,
} from '../support/harness.ts';
import { ServiceProcess } from '../support/service-process.ts';
import { MIB } from '@koodrive/limits';

async function openDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

// Connections the server at `port` has accepted and holds open (ESTABLISHED, its side), from the
// kernel's table: unlike a count of the process's descriptors, not moved by its own outgoing
// connections (the pool's, storage's) opening and closing meanwhile.
async function heldConnections(port: number): Promise<number> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const table = await readFile('/proc/net/tcp', 'latin1');
  return table
    .split('\n')
    .slice(1)
    .filter((line) => {
      const [, local, , state] = line.trim().split(/\s+/);
      return local?.endsWith(`:${hexPort}`) === true && state === '01';
    }).length;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// A socket that sends `head` and then nothing more; resolves when the server closes it, with what
// the server sent and how long after `head` was written (ms).
function stalled(port: number, head: string): { socket: Socket; closed: Promise<string>; after: Promise<number> } {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  let sentAt = Number.NaN;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closedAt = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now())));
  const closed = closedAt.then(() => received);
  socket.write(head, () => (sentAt = performance.now()));
  return { socket, closed, after: closedAt.then((at) => at - sentAt) };
}

// The bounds the test sets (seconds), each far below its default (15 and 30), and what a close may
// take beyond its bound: node's server looks for connections past their headers timeout once a
// second (http-limits.ts), and the machine is shared
const HEADERS_TIMEOUT_SECONDS = 2;
const BODY_IDLE_TIMEOUT_SECONDS = 2;
const HEADERS_CHECK_INTERVAL_MS = 1_000;
const SLACK_MS = 1_500;

describe('hardening against slow clients and forged input', () => {
  let service: ServiceProcess;
  let user: TestUser;
  let port: number;

  before(async () => {
    service = await ServiceProcess.start({
      LOG_LEVEL: 'info',
      HTTP_HEADERS_TIMEOUT_SECONDS: String(HEADERS_TIMEOUT_SECONDS),
      HTTP_BODY_IDLE_TIMEOUT_SECONDS: String(BODY_IDLE_TIMEOUT_SECONDS),
      PART_PUTS_PER_USER: '2',
      PART_UPLOAD_VIA: 'service',
    });
    port = Number(new URL(service.baseUrl).port);
    user = await newUser();
  });
  after(async () => {
    await service.stop();
    await closeTestRedis();
    await closeTestDb();
  });

  const api = (route: string, body: object, headers: Record<string, string> = {}) =>
    call(service.baseUrl, route, body, { token: user.token, headers });

  async function partUrls(length: number, partSize: number): Promise<{ fileId: string; urls: string[] }> {
    const parts = Array.from({ length: Math.ceil(length / partSize) }, (_, i) => ({
      partNumber: i + 1,
      partSize: Math.min(partSize, length - i * partSize),
      partOffset: i * partSize,
    }));
    const created = await api('create', { fileName: `h-${randomUUID()}.bin`, length, multiParts: parts });
    assert.equal(created.body.code, 0, JSON.stringify(created.body));
    return {
      fileId: created.body.fileId as string,
      urls: (created.body.multiParts as { uploadUrl: string }[]).map((part) => part.uploadUrl),
    };
  }

  const putHead = (url: string, size: number): string => {
    const { pathname, search } = new URL(url);
    return `PUT ${pathname}${search} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${size}\r\n\r\n`;
  };

  it('closes sockets that never finish their headers, and stalled PUTs of one part, within their bounds, returning their descriptors', async (t) => {
    const pid = service.child.pid!;
    const baseline = await openDescriptors(pid);
    const { urls } = await partUrls(5 * MIB, 5 * MIB);
    const heldBefore = await heldConnections(port);
    const unfinished = Array.from({ length: 5 }, () => stalled(port, 'PUT / HTTP/1.1\r\nHost: x\r\n'));
    // 10 PUTs of one part that send their headers and a byte of body, then nothing
    const puts = Array.from({ length: 10 }, () => stalled(port, `${putHead(urls[0]!, 5 * MIB)}x`));
    await waitFor('the server holds every socket', async () => (await heldConnections(port)) >= heldBefore + 15);
    const answers = await Promise.all(puts.map((put) => put.closed));
    // one held the part's lease until its body stalled; the others were refused at once: by the
    // lease (13000403), or, arriving together, by the user's cap on PUTs in flight (13000903)
    const refused = (answer: string): boolean =>
      answer.includes('"code":13000403') || answer.includes('"code":13000903');
    assert.equal(answers.filter(refused).length, 9, answers.join('\n'));
    assert.ok(
      answers.some((answer) => answer.includes('"code":13000403')),
      answers.join('\n'),
    );
    assert.ok(answers.every((answer) => !answer.startsWith('HTTP/1.1 200')));
    const bodyStalled = puts[answers.findIndex((answer) => !refused(answer))]!;
    const bodyMs = await bodyStalled.after;
    const bodyBound = BODY_IDLE_TIMEOUT_SECONDS * 1000;
    t.diagnostic(
      `the stalled body was cut ${Math.round(bodyMs)} ms after its last byte (bound ${bodyBound} + ${SLACK_MS} ms)`,
    );
    assert.ok(bodyMs >= bodyBound - 50 && bodyMs <= bodyBound + SLACK_MS, `body cut after ${bodyMs} ms`);
    const headersMs = await Promise.all(unfinished.map((socket) => socket.after));
    const headersBound = HEADERS_TIMEOUT_SECONDS * 1000 + HEADERS_CHECK_INTERVAL_MS;
    t.diagnostic(
      `the unfinished heads were closed ${headersMs.map(Math.round).join(', ')} ms after their last byte (bound ${headersBound} + ${SLACK_MS} ms)`,
    );
    for (const ms of headersMs) {
      assert.ok(ms <= headersBound + SLACK_MS, `headers unfinished: closed after ${ms} ms`);
    }
    await waitFor('every descriptor is returned', async () => (await openDescriptors(pid)) <= baseline + 2);
  });

  it("caps one user's part PUTs in flight (PART_PUTS_PER_USER) with 13000903", async () => {
    const { fileId, urls } = await partUrls(15 * MIB, 5 * MIB);
    const slow = urls.slice(0, 2).map((url) => stalled(port, `${putHead(url, 5 * MIB)}x`));
    // each PUT takes its part's lease, then (at once, no await between) its place under the cap
    await waitFor('two PUTs hold their parts', async () => {
      const held = await testDb().filePart.count({ where: { fileId, putLeaseUntil: { gt: new Date() } } });
      return held === 2;
    });
    const third = await fetch(urls[2]!, { method: 'PUT', body: testBytes(5 * MIB, 80) });
    assert.equal(third.status, 429);
    assert.equal(((await third.json()) as { code: number }).code, 13000903);
    assert.ok(third.headers.get('retry-after'));
    await Promise.all(slow.map((put) => put.closed));
    const later = await fetch(urls[2]!, { method: 'PUT', body: testBytes(5 * MIB, 80) });
    assert.equal(later.status, 200, 'the cap frees as PUTs end');
  });

  it('takes a part of any Content-Type, and keeps signatures out of every log line', async () => {
    const urls: string[] = [];
    for (const [i, contentType] of ['application/json', 'text/plain', 'application/x-www-form-urlencoded'].entries()) {
      const {
        fileId,
        urls: [url],
      } = await partUrls(1000, 1000);
      urls.push(url!);
      const response = await fetch(url!, {
        method: 'PUT',
        headers: { 'content-type': contentType },
        body: testBytes(1000, 81 + i),
      });
      assert.equal(response.status, 200, `${contentType}: ${await response.text()}`);
      assert.equal((await api('complete', { fileId })).body.code, 0);
    }
    // a signature's parameter spelt otherwise is still a signature
    const url = new URL(urls[0]!);
    const signature = url.searchParams.get('signature')!;
    const respelt = `${url.origin}${url.pathname}?expires=${url.searchParams.get('expires')!}&sig%6Eature=${signature}`;
    await fetch(respelt, { method: 'PUT', body: 'x' });
    await waitFor('the access log line', () => Promise.resolve(service.output.includes('sig%6Eature=[redacted]')));
    for (const candidate of urls.map((u) => new URL(u).searchParams.get('signature')!)) {
      assert.ok(!service.output.includes(candidate), 'a part URL signature reached the log');
    }
  });

  it('takes a part URL signature in one form only', async () => {
    const { urls } = await partUrls(1000, 1000);
    const url = new URL(urls[0]!);
    const signature = url.searchParams.get('signature')!;
    for (const forged of [signature.toUpperCase(), `${signature}00`]) {
      url.searchParams.set('signature', forged);
      const response = await fetch(url, { method: 'PUT', body: testBytes(1000, 84) });
      assert.equal(response.status, 400, forged);
      assert.equal(((await response.json()) as { code: number }).code, 13000410);
    }
  });

  it("believes no forwarded header without TRUST_PROXY: part URLs keep the request's own origin", async () => {
    const created = await api(
      'create',
      { fileName: `f-${randomUUID()}.bin`, length: 10, multiParts: [{ partNumber: 1, partSize: 10, partOffset: 0 }] },
      { 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'evil.example' },
    );
    assert.equal(created.body.code, 0);
    const uploadUrl = (created.body.multiParts as { uploadUrl: string }[])[0]!.uploadUrl;
    assert.ok(uploadUrl.startsWith(`${service.baseUrl}/`), uploadUrl);
  });

  it('answers deeply nested JSON with 13000101', async () => {
    const deep = `{"fileId":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const answer = await call(service.baseUrl, 'complete', undefined, { token: user.token, rawBody: deep });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.code, 13000101);
  });

  it('refuses names that hide or reorder characters, and stores names NFC', async () => {
    for (const name of [
      'invoice\u202Efdp.exe',
      'a\u2066b',
      'zero\u200Bwidth',
      'c1\u0085x',
      'lone\uD800.txt',
      'bom\uFEFF',
    ]) {
      const answer = await api('create', { fileName: name, length: 1 });
      assert.equal(answer.body.code, 13000102, JSON.stringify(name));
      assert.match(answer.body.msg, /^Verify parameters failed\. fileName: /);
    }
    const decomposed = 'Cafe\u0301.txt';
    const created = await api('create', { fileName: decomposed, length: 1 });
    assert.equal(created.body.fileName, 'Caf\u00E9.txt');
    assert.equal((await fileRow(created.body.fileId as string)).fileName, 'Caf\u00E9.txt');
  });

  it("refuses a file that would not fit the container's quota with 13000311", async () => {
    // a container of its own: the tasks the tests above left open hold their lengths against theirs
    const owner = await newUser();
    const api = (route: string, body: object) => call(service.baseUrl, route, body, { token: owner.token });
    const key = `koodrive:quota:${owner.containerId}`;
    await testRedis().set(key, JSON.stringify({ used: 900, limit: 1000 }));
    try {
      const over = await api('create', { fileName: `q-${randomUUID()}.bin`, length: 101 });
      assert.equal(over.status, 400);
      assert.deepEqual(over.body, { code: 13000311, msg: 'Insufficient space.' });
      const exact = await api('create', { fileName: `q-${randomUUID()}.bin`, length: 100 });
      assert.equal(exact.body.code, 0);
    } finally {
      await testRedis().del(key);
    }
    assert.equal(
      (await api('create', { fileName: `q-${randomUUID()}.bin`, length: 200 * 1024 ** 3 })).body.code,
      0,
      'no record, no limit',
    );
  });
});

describe('forwarded headers from TRUST_PROXY, and PUBLIC_URL', () => {
  it('believes X-Forwarded-* only from a trusted address, and PUBLIC_URL over both', async () => {
    const user = await newUser();
    const trusted = await ServiceProcess.start({ TRUST_PROXY: '127.0.0.0/8', PART_UPLOAD_VIA: 'service' });
    const fixed = await ServiceProcess.start({
      PUBLIC_URL: 'https://upload.koodrive.example',
      PART_UPLOAD_VIA: 'service',
    });
    try {
      const create = (baseUrl: string, headers: Record<string, string>) =>
        call(
          baseUrl,
          'create',
          {
            fileName: `t-${randomUUID()}.bin`,
            length: 10,
            multiParts: [{ partNumber: 1, partSize: 10, partOffset: 0 }],
          },
          { token: user.token, headers },
        );
      const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'upload.behind.example' };
      const viaProxy = await create(trusted.baseUrl, forwarded);
      assert.match(
        (viaProxy.body.multiParts as { uploadUrl: string }[])[0]!.uploadUrl,
        /^https:\/\/upload\.behind\.example\//,
      );
      const hostile = await create(trusted.baseUrl, {
        'x-forwarded-proto': 'javascript',
        'x-forwarded-host': 'evil.example',
      });
      assert.equal(hostile.body.code, 13000102, 'a trusted proxy still cannot make a javascript: URL');
      const configured = await create(fixed.baseUrl, forwarded);
      assert.match(
        (configured.body.multiParts as { uploadUrl: string }[])[0]!.uploadUrl,
        /^https:\/\/upload\.koodrive\.example\//,
      );
    } finally {
      await Promise.all([trusted.stop(), fixed.stop()]);
      await closeTestRedis();
    }
  });
});

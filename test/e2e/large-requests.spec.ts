// Large requests (issue 23, finding 4): a 10,000-part create or uploadUrl took about a second of
// CPU, and six at once kept /healthz waiting 1.8 s, so a readiness probe failed. With six such
// requests in flight, 95 % of the probes of /healthz and /readyz answer within PROBE_BOUND_MS (the
// bound the issue sets), and every one within it plus PROBE_SLACK_MS. The requests and the probes
// are sent by curl, processes of their own, so that what is timed is the service's wait and not
// this test's.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { MIB } from '@koodrive/limits';
import { closeTestDb, closeTestRedis, newUser, type TestUser } from '../support/harness.ts';
import { ServiceProcess } from '../support/service-process.ts';
import { MAX_WAITING } from '../../apps/upload/src/http/heavy-requests.ts';

const run = promisify(execFile);
const PARTS = 10_000;
const IN_FLIGHT = 6;
const PROBE_BOUND_MS = 100;
// For the probe's own client on a shared 2-core machine: curl's start, its connect over loopback,
// and its turn on a CPU that PostgreSQL and RGW share with the service for the same creates. The
// slowest probe at this test's commit, five runs under npm run test:coverage's conditions: 31-49 ms
// quiet; 87-92 ms with two processes spinning on both cores (95th percentile 44-50 ms).
const PROBE_SLACK_MS = 50;

describe('large requests', () => {
  let service: ServiceProcess;
  let users: TestUser[];
  let bodyFile: string;

  before(async () => {
    // without the coverage instrumentation npm run test:coverage gives every process (its counters
    // in every block of the hot loops made the turns of the loop what production never sees: the
    // slowest probe 84-115 ms where it is 31-49 ms without); the code it runs is covered by the
    // other specs
    service = await ServiceProcess.start({ LOG_LEVEL: 'warn', PART_UPLOAD_VIA: 's3' }, ['NODE_V8_COVERAGE']);
    users = await Promise.all(Array.from({ length: IN_FLIGHT }, () => newUser()));
    const multiParts = Array.from({ length: PARTS }, (_, i) => ({
      partNumber: i + 1,
      partSize: 5 * MIB,
      partOffset: i * 5 * MIB,
      ...(i === 0
        ? {}
        : { hashCtx: [1779033703, 3144134277, 1013904242, 2773480762, 1359893119, 2600822924, 528734635, i] }),
    }));
    bodyFile = path.join(tmpdir(), `large-create-${randomUUID()}.json`);
    await writeFile(bodyFile, JSON.stringify({ fileName: 'large.bin', length: PARTS * 5 * MIB, multiParts }));
  });
  after(async () => {
    await service.stop();
    await closeTestRedis();
    await closeTestDb();
  });

  const curl = (args: string[]) => run('curl', ['-sS', '--max-time', '120', ...args], { maxBuffer: 64 * MIB });
  // a create with `body` (a file) by curl, `options` saying what to print
  const curlCreate = (token: string, options: string[], body = bodyFile) =>
    curl([
      ...options,
      '-H',
      `authorization: Bearer ${token}`,
      '-H',
      'content-type: application/json',
      '--data-binary',
      `@${body}`,
      `${service.baseUrl}/koodrive/ose/v1/files/create`,
    ]);

  it(`answers /healthz and /readyz while ${IN_FLIGHT} creates of ${PARTS} parts are in flight: 95 % within ${PROBE_BOUND_MS} ms, every one within ${PROBE_BOUND_MS} ms + ${PROBE_SLACK_MS} ms`, async (t) => {
    let inFlight = IN_FLIGHT;
    // each answer (7 MiB) goes to a file, read once the probing is over: this process's own work on
    // it (a pipe's chunks, the parse) would take a core from the service while it is probed
    const creates = users.map(async (user) => {
      const answerFile = path.join(tmpdir(), `large-answer-${randomUUID()}.json`);
      const { stdout: status } = await curlCreate(user.token, ['-o', answerFile, '-w', '%{http_code}']).finally(() => {
        inFlight -= 1;
      });
      return { status, answerFile };
    });
    const probes: { path: string; ms: number }[] = [];
    while (inFlight > 0) {
      for (const probe of ['/healthz', '/readyz']) {
        const { stdout } = await curl([
          '-o',
          '/dev/null',
          '-w',
          '%{http_code} %{time_total}',
          `${service.baseUrl}${probe}`,
        ]);
        const [status, seconds] = stdout.split(' ');
        assert.equal(status, '200', probe);
        if (inFlight > 0) {
          probes.push({ path: probe, ms: Number(seconds) * 1000 });
        }
      }
    }
    const answers = await Promise.all(
      (await Promise.all(creates)).map(async ({ status, answerFile }) => {
        const answer = JSON.parse(await readFile(answerFile, 'utf8')) as { code: number; multiParts: unknown[] };
        await rm(answerFile);
        return { status, code: answer.code, urls: answer.multiParts.length };
      }),
    );
    assert.deepEqual(
      answers,
      users.map(() => ({ status: '200', code: 0, urls: PARTS })),
    );
    assert.ok(probes.length >= 20, `probed ${probes.length} times while the creates ran`);
    const sorted = probes.map((probe) => probe.ms).sort((a, b) => a - b);
    const p95 = sorted[Math.ceil(sorted.length * 0.95) - 1]!;
    const slowest = probes.reduce((worst, probe) => (probe.ms > worst.ms ? probe : worst));
    const all = probes.map((probe) => probe.ms.toFixed(0)).join(' ');
    t.diagnostic(
      `${probes.length} probes: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, 95th percentile ${p95.toFixed(0)} ms, slowest ${slowest.path} ${slowest.ms.toFixed(0)} ms; in order: ${all}`,
    );
    assert.ok(p95 <= PROBE_BOUND_MS, `95th percentile ${p95.toFixed(0)} ms; all: ${all}`);
    assert.ok(
      slowest.ms <= PROBE_BOUND_MS + PROBE_SLACK_MS,
      `${slowest.path} took ${slowest.ms.toFixed(0)} ms (bound ${PROBE_BOUND_MS} ms + ${PROBE_SLACK_MS} ms); all: ${all}`,
    );
  });

  // Such requests run one at a time (apps/upload/src/http/heavy-requests.ts): one refused, one whose
  // body is not JSON, or one whose client left while it waited or ran, must not keep the next waiting
  // for good.
  it('serves the next large request after one refused, one not JSON and ones whose clients left', async () => {
    const create = (token: string, maxSeconds: string, body = bodyFile) =>
      curlCreate(token, ['--max-time', maxSeconds, '-o', '/dev/null', '-w', '%{http_code}'], body);
    assert.equal((await create('not-a-token', '120')).stdout, '401');
    // a large body that is not JSON: refused as it is parsed, in its turn
    const broken = path.join(tmpdir(), `large-broken-${randomUUID()}.json`);
    await writeFile(broken, (await readFile(bodyFile, 'utf8')).slice(0, -10));
    assert.equal((await create(users[4]!.token, '120', broken)).stdout, '400');
    // three clients that give up after 50 ms, while their creates wait or run
    const left = await Promise.allSettled(users.slice(0, 3).map((user) => create(user.token, '0.05')));
    assert.ok(
      left.every((outcome) => outcome.status === 'rejected'),
      'curl gave up on each',
    );
    assert.equal((await create(users[3]!.token, '60')).stdout, '200');
  });

  // Waiting large requests hold their bodies (up to 4 MiB each): past MAX_WAITING of them the next is
  // refused at once, 429/13000903 with Retry-After.
  it(`refuses a large request with 429/13000903 while ${MAX_WAITING} wait already`, async () => {
    const many = await Promise.all(Array.from({ length: MAX_WAITING + 8 }, () => newUser()));
    const answers = await Promise.all(
      many.map(async (user) => {
        const { stdout } = await curlCreate(user.token, ['-o', '/dev/null', '-D', '-', '-w', '%{http_code}']);
        return { status: stdout.slice(-3), retryAfter: /^retry-after: *(\d+)/im.exec(stdout)?.[1] };
      }),
    );
    const refused = answers.filter((answer) => answer.status === '429');
    assert.ok(refused.length > 0, `sent ${answers.length} at once: ${answers.map((a) => a.status).join(' ')}`);
    assert.ok(refused.every((answer) => answer.retryAfter === '1'));
    assert.ok(answers.every((answer) => answer.status === '200' || answer.status === '429'));
    assert.ok(answers.filter((answer) => answer.status === '200').length >= MAX_WAITING);
  });
});

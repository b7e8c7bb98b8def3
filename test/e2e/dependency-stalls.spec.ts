// Every wait on a dependency has a bound: storage, PostgreSQL or Redis frozen (a proxy that accepts
// connections and never answers, as a SIGSTOPped process does), a PostgreSQL lock held, S3
// answering 500/503 SlowDown, a connection cut mid-query. create, uploadUrl, the start of a part
// PUT and complete's claim each answer 503/13000201 with Retry-After (or succeed, when the call
// does not need what is frozen) no later than the bound that applies plus SLACK_MS; a completion
// interrupted that way gives its lease up at once, nothing is lost, and the service works again
// once the dependency does.
// Two sets of bounds: small ones set here, each far enough below its default that the test fails
// when the setting is ignored; and the service's defaults, in a process of its own, which must
// answer within 5 s whatever stalls (issue 27).
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type Fault, FaultProxy, s3ErrorAnswer } from '../../tools/testing/fault-proxy.ts';
import type { ApiResponse, TestUser } from '../support/harness.ts';
import { ServiceProcess } from '../support/service-process.ts';
import { loadConfig } from '@koodrive/config';
import { MIB } from '@koodrive/limits';

const real = {
  s3: process.env.S3_ENDPOINT!,
  database: process.env.DATABASE_URL!,
  redis: process.env.REDIS_URL!,
};
const s3 = await FaultProxy.start(real.s3, { http: true });
const postgres = await FaultProxy.start(real.database);
const redis = await FaultProxy.start(real.redis);
const proxies = { storage: s3, PostgreSQL: postgres, Redis: redis } as const;
type Dependency = keyof typeof proxies;

const harness = await import('../support/harness.ts');
const { assertCompletedOnce } = await import('../support/promises.ts');

// what an answer may take beyond the bound that applies: the request's own work on this shared
// 2-core machine (authentication, the statements before the stalled one)
const SLACK_MS = 1_500;
// what a client can live with, on the default settings (issue 27)
const DEFAULTS_MUST_ANSWER_MS = 5_000;
// PostgreSQL's client gives up this long after the server's statement bound (prisma.service.ts)
const QUERY_MARGIN_MS = 500;

// the bounds under test, small so the suite is quick, and each at least SLACK_MS below its default
const BOUNDS = {
  STORAGE_CONNECT_TIMEOUT_MS: '500',
  STORAGE_IDLE_TIMEOUT_MS: '1000',
  STORAGE_REQUEST_TIMEOUT_MS: '1000',
  DATABASE_STATEMENT_TIMEOUT_MS: '1000',
  DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
  REDIS_COMMAND_TIMEOUT_MS: '400',
};

// A statement sent to a frozen PostgreSQL runs once it thaws, after its request has answered 503:
// complete's claim then holds a lease nobody renews, which must lapse before the file completes.
// Not a bound under test: short so that the test does not wait a minute.
const SHORT_LEASE = { COMPLETE_LEASE_SECONDS: '3' };

interface Bounds {
  // an SDK call (create's CreateMultipartUpload, complete's ListParts), its retry included
  readonly storageCall: number;
  // a part PUT through the service: connecting, then the store taking no byte / not answering
  readonly partPut: number;
  // a statement the server does not answer, or a connection the pool cannot get
  readonly database: number;
  // a statement the server cancels (a lock held)
  readonly statement: number;
  readonly redis: number;
}

function boundsOf(env: Readonly<Record<string, string>>): Bounds {
  const { timeouts } = loadConfig(env);
  return {
    storageCall: timeouts.storageRequestMs,
    partPut: Math.max(timeouts.storageConnectMs, timeouts.storageIdleMs),
    database: Math.max(timeouts.databaseStatementMs + QUERY_MARGIN_MS, timeouts.databaseAcquireMs),
    statement: timeouts.databaseStatementMs,
    redis: timeouts.redisCommandMs,
  };
}

const app = harness.useTestApp({
  ...BOUNDS,
  S3_ENDPOINT: s3.url(real.s3),
  S3_PUBLIC_ENDPOINT: real.s3,
  DATABASE_URL: postgres.url(real.database),
  REDIS_URL: redis.url(real.redis),
  VERIFY_RETRIES: '1',
  ...SHORT_LEASE,
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: { code: number };
  readonly ms: number;
}

// `call`'s answer, which must come within `boundMs` + SLACK_MS (a client gives up then).
async function within(t: TestContext, what: string, boundMs: number, call: () => Promise<Answer>): Promise<Answer> {
  const started = performance.now();
  const limit = boundMs + SLACK_MS;
  const answer = await Promise.race([
    call(),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer within ${boundMs} + ${SLACK_MS} ms`)), limit).unref(),
    ),
  ]);
  const ms = Math.round(performance.now() - started);
  t.diagnostic(`${what}: answered ${answer.status} in ${ms} ms (bound ${boundMs} ms + ${SLACK_MS} ms)`);
  assert.ok(ms <= limit, `${what}: answered in ${ms} ms, past the bound ${boundMs} ms + ${SLACK_MS} ms`);
  return { ...answer, ms };
}

function assertUnavailable(what: string, answer: Answer): void {
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.code, 13000201, what);
  assert.equal(answer.headers.get('retry-after'), '5', what);
  assert.ok(answer.headers.get('x-traceid'), `${what}: X-Traceid on a 503 too`);
}

const asAnswer = (response: ApiResponse): Answer => ({ ...response, ms: 0 });

// A service under test, its user, a file ready to complete, and a part URL through the service.
class Subject {
  private constructor(
    readonly baseUrl: string,
    readonly user: TestUser,
    readonly ready: { fileId: string; data: Buffer },
    readonly partUrl: string,
    readonly partBytes: Buffer,
  ) {}

  static async prepare(baseUrl: string, seed: number): Promise<Subject> {
    const user = await harness.newUser();
    const data = harness.testBytes(5 * MIB + 10, seed);
    const { fileId } = await harness.upload(baseUrl, user, data);
    const partBytes = harness.testBytes(MIB, seed + 1);
    const created = await harness.call(
      baseUrl,
      'create',
      { fileName: `p-${randomUUID()}.bin`, length: partBytes.length },
      { token: user.token },
    );
    assert.equal(created.body.code, 0, JSON.stringify(created.body));
    const urls = await harness.call(
      baseUrl,
      'multipart/uploadUrl',
      {
        fileId: created.body.fileId,
        uploadVia: 'service',
        multiParts: [{ partNumber: 1, partSize: partBytes.length, partOffset: 0 }],
      },
      { token: user.token },
    );
    assert.equal(urls.body.code, 0, JSON.stringify(urls.body));
    const [part] = urls.body.multiParts as { uploadUrl: string }[];
    return new Subject(baseUrl, user, { fileId, data }, part!.uploadUrl, partBytes);
  }

  create(): Promise<Answer> {
    return harness
      .call(this.baseUrl, 'create', { fileName: `s-${randomUUID()}.bin`, length: 5 * MIB + 10 }, this.auth())
      .then(asAnswer);
  }

  uploadUrl(): Promise<Answer> {
    const multiParts = [{ partNumber: 1, partSize: 5 * MIB, partOffset: 0 }];
    return harness
      .call(this.baseUrl, 'multipart/uploadUrl', { fileId: this.ready.fileId, multiParts }, this.auth())
      .then(asAnswer);
  }

  async putPart(): Promise<Answer> {
    const response = await fetch(this.partUrl, { method: 'PUT', body: this.partBytes });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Answer['body'],
      ms: 0,
    };
  }

  complete(): Promise<Answer> {
    return harness.call(this.baseUrl, 'complete', { fileId: this.ready.fileId }, this.auth()).then(asAnswer);
  }

  private auth(): { token: string } {
    return { token: this.user.token };
  }
}

// `dependency` frozen: create, uploadUrl, the part PUT's start and complete's claim each answer
// within the bound that applies; those that need it answer 503. Then all works again and the
// ready file completes once.
async function stallRound(t: TestContext, subject: Subject, dependency: Dependency, bounds: Bounds): Promise<Answer[]> {
  const answers: Answer[] = [];
  const check = async (
    what: string,
    boundMs: number,
    call: () => Promise<Answer>,
    expect: 'unavailable' | 'answers',
  ): Promise<void> => {
    const answer = await within(t, `${what}, ${dependency} frozen`, boundMs, call);
    if (expect === 'unavailable') {
      assertUnavailable(`${what}, ${dependency} frozen`, answer);
    }
    answers.push(answer);
  };
  proxies[dependency].freeze();
  try {
    switch (dependency) {
      case 'storage':
        await check('create', bounds.storageCall, () => subject.create(), 'unavailable');
        // part URLs are signed in the process: no storage call
        await check('uploadUrl', 0, () => subject.uploadUrl(), 'answers');
        await check('part PUT', bounds.partPut, () => subject.putPart(), 'unavailable');
        await check('complete', bounds.storageCall, () => subject.complete(), 'unavailable');
        break;
      case 'PostgreSQL':
        await check('create', bounds.database, () => subject.create(), 'unavailable');
        await check('uploadUrl', bounds.database, () => subject.uploadUrl(), 'unavailable');
        await check('part PUT', bounds.database, () => subject.putPart(), 'unavailable');
        await check('complete', bounds.database, () => subject.complete(), 'unavailable');
        break;
      case 'Redis':
        // the session is read from Redis before anything else
        await check('create', bounds.redis, () => subject.create(), 'unavailable');
        await check('uploadUrl', bounds.redis, () => subject.uploadUrl(), 'unavailable');
        // a part URL carries its own signature: no Redis
        await check('part PUT', 0, () => subject.putPart(), 'answers');
        await check('complete', bounds.redis, () => subject.complete(), 'unavailable');
        break;
    }
  } finally {
    proxies[dependency].thaw();
  }
  if (dependency === 'storage') {
    const row = await harness.fileRow(subject.ready.fileId);
    assert.equal(row.status, 'COMPLETING');
    assert.ok(row.claimExpiresAt! <= new Date(), 'the lease was given up at once');
  }
  // the connections that waited come back once their answers arrive
  await harness.until(`${dependency} serves again`, async () =>
    (await subject.create()).body.code === 0 ? true : undefined,
  );
  const done = await subject.complete();
  assert.equal(done.body.code, 0, JSON.stringify(done.body));
  await assertCompletedOnce(subject.ready.fileId, subject.ready.data);
  return answers;
}

after(async () => {
  for (const proxy of Object.values(proxies)) {
    proxy.thaw();
  }
  await Promise.all(Object.values(proxies).map((proxy) => proxy.stop()));
});

describe('dependencies that stall or fail, with small bounds set', () => {
  const bounds = boundsOf(BOUNDS);
  let user: TestUser;

  before(async () => {
    user = await harness.newUser();
  });

  const create = (length = 5 * MIB + 10) =>
    harness.call(app().baseUrl, 'create', { fileName: `s-${randomUUID()}.bin`, length }, { token: user.token });
  const complete = (fileId: string) => harness.call(app().baseUrl, 'complete', { fileId }, { token: user.token });
  // while storage answers every request with `fault`, a create is 503 within the call bound; once it
  // stops, creates work again
  const createUnavailableWhile = async (t: TestContext, what: string, fault: Fault): Promise<void> => {
    s3.inject(() => true, fault, 100);
    try {
      assertUnavailable(what, await within(t, what, bounds.storageCall, () => create().then(asAnswer)));
    } finally {
      s3.clearFaults();
    }
    assert.equal((await create()).body.code, 0);
  };

  for (const [seed, dependency] of [
    [95, 'storage'],
    [97, 'PostgreSQL'],
    [99, 'Redis'],
  ] as const) {
    it(`${dependency} frozen: create, uploadUrl, a part PUT and complete answer within their bounds; all works after`, async (t) => {
      await stallRound(t, await Subject.prepare(app().baseUrl, seed), dependency, bounds);
    });
  }

  it('storage answering 503 SlowDown or 500: retried once, then 503 within the call bound; all works after', async (t) => {
    s3.inject(() => true, s3ErrorAnswer(500, 'InternalError', 'We encountered an internal error.'), 1);
    assert.equal((await create()).body.code, 0, 'one 500 is retried by the client and not seen');
    await createUnavailableWhile(
      t,
      'create, storage SlowDown',
      s3ErrorAnswer(503, 'SlowDown', 'Please reduce your request rate.'),
    );
  });

  // Neither silent nor done: only the call's own deadline (STORAGE_REQUEST_TIMEOUT_MS) ends it, the
  // idle bound never does.
  it('storage trickling its answer, a byte every half idle bound: create answers 503 within the call bound; all works after', async (t) => {
    await createUnavailableWhile(t, 'create, storage trickling', {
      kind: 'trickle',
      everyMs: Number(BOUNDS.STORAGE_IDLE_TIMEOUT_MS) / 2,
    });
  });

  it('a PostgreSQL lock held on the file: complete answers 503 within the statement bound; all works after', async (t) => {
    const data = harness.testBytes(5 * MIB + 20, 96);
    const { fileId } = await harness.upload(app().baseUrl, user, data);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = harness.testDb().$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT id FROM files WHERE id = ${fileId} FOR UPDATE`;
        locked();
        await released;
      },
      { timeout: 60_000 },
    );
    await isLocked;
    try {
      // the server cancels the claim's UPDATE at its statement_timeout
      const answer = await within(t, 'complete, row locked', bounds.statement, () => complete(fileId).then(asAnswer));
      assertUnavailable('complete, row locked', answer);
    } finally {
      release();
      await holder;
    }
    const done = await complete(fileId);
    assert.equal(done.body.code, 0, JSON.stringify(done.body));
    await assertCompletedOnce(fileId, data);
  });

  it('a connection cut mid-answer, to PostgreSQL and to Redis: an answer (503, or done on a retry), then all works', async (t) => {
    for (const [what, proxy, bytes, bound] of [
      ['PostgreSQL', postgres, 5, bounds.database],
      ['Redis', redis, 1, bounds.redis],
    ] as const) {
      let cut = false;
      proxy.cutAfterUpstreamBytes(bytes, () => (cut = true));
      const answer = await within(t, `create, ${what} cut`, bound, () => create().then(asAnswer));
      assert.ok(cut, `the ${what} connection was cut`);
      assert.ok(
        answer.body.code === 0 || (answer.status === 503 && answer.body.code === 13000201),
        JSON.stringify(answer.body),
      );
    }
    await harness.until('both serve again', async () => ((await create()).body.code === 0 ? true : undefined));
  });
});

describe('dependencies that stall, on the default settings (a process of its own)', () => {
  // nothing of BOUNDS: every timeout is the service's default
  const defaults = boundsOf({});
  let service: ServiceProcess;
  let subjects: Record<Dependency, Subject>;

  before(async () => {
    service = await ServiceProcess.start(
      {
        S3_ENDPOINT: s3.url(real.s3),
        S3_PUBLIC_ENDPOINT: real.s3,
        DATABASE_URL: postgres.url(real.database),
        REDIS_URL: redis.url(real.redis),
        ...SHORT_LEASE,
      },
      Object.keys(BOUNDS),
    );
    subjects = {
      storage: await Subject.prepare(service.baseUrl, 195),
      PostgreSQL: await Subject.prepare(service.baseUrl, 197),
      Redis: await Subject.prepare(service.baseUrl, 199),
    };
  });
  after(async () => {
    await service?.stop();
  });

  for (const dependency of ['storage', 'PostgreSQL', 'Redis'] as const) {
    it(`${dependency} frozen: every call answers within ${DEFAULTS_MUST_ANSWER_MS} ms`, async (t) => {
      for (const answer of await stallRound(t, subjects[dependency], dependency, defaults)) {
        assert.ok(answer.ms < DEFAULTS_MUST_ANSWER_MS, `answered in ${answer.ms} ms`);
      }
    });
  }
});

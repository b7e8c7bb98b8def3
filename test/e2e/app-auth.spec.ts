// App authentication (API.md, "App authentication") against the built service: a request signed by
// hand with `openssl dgst -hmac` is accepted; every way a signature can be wrong is 401/13000901
// with nothing about why in the answer (the reason is in the log); a replay is refused; the user
// comes from koodrive:user:<userId>.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { closeTestDb, closeTestRedis, fileRow, testRedis, until } from '../support/harness.ts';
import { ServiceProcess } from '../support/service-process.ts';

const APP_ID = 'app-e2e';
const SECRET = 'an-app-secret-for-e2e-0123456789';
const READER_APP = 'app-reader';
const APP_CREDENTIALS = JSON.stringify({
  [APP_ID]: { secret: SECRET, scopes: ['file.upload'] },
  [READER_APP]: { secret: SECRET, scopes: ['file.read'] },
});
const CREATE_PATH = '/koodrive/ose/v1/files/create';

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

// HMAC-SHA256 by the openssl CLI: an implementation other than the service's
function opensslHmac(secret: string, data: string): string {
  const out = execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret], { input: data }).toString();
  return out.trim().split(' ').pop()!;
}

// The service's log lines of one request: its completion line names the answer's X-Traceid, and
// every line logged while it ran carries the same reqId.
function requestLog(output: string, xTraceid: string): Record<string, unknown>[] {
  const lines = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const done = lines.find((line) => line.xTraceid === xTraceid && typeof line.reqId === 'string');
  return done === undefined ? [] : lines.filter((line) => line.reqId === done.reqId);
}

function xDate(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}

interface Signed {
  readonly headers: Record<string, string>;
  readonly body: string;
}

// The request of API.md's steps 1-4, written out by hand. `unsigned`: headers sent but left out of
// the signature (host, or an x-hw-* header): the service must refuse those.
function signByHand(options: {
  host: string;
  userId: string;
  body: string;
  date?: Date;
  secret?: string;
  appId?: string;
  unsigned?: { host?: true; shareFolder?: string };
}): Signed {
  const date = xDate(options.date ?? new Date());
  const signed: [string, string][] = [
    ...(options.unsigned?.host ? [] : [['host', options.host] as [string, string]]),
    ['x-date', date],
    ['x-user-id', options.userId],
  ];
  const canonical = [
    'POST',
    `${CREATE_PATH}/`,
    '',
    ...signed.map(([name, value]) => `${name}:${value}`),
    '',
    signed.map(([name]) => name).join(';'),
    sha256Hex(options.body),
  ].join('\n');
  const signature = opensslHmac(options.secret ?? SECRET, `HMAC-SHA256\n${sha256Hex(canonical)}`);
  const names = signed.map(([name]) => name).join(';');
  return {
    body: options.body,
    headers: {
      'content-type': 'application/json',
      'x-date': date,
      'x-user-id': options.userId,
      ...(options.unsigned?.shareFolder === undefined ? {} : { 'x-hw-share-folder-id': options.unsigned.shareFolder }),
      authorization: `HMAC-SHA256 AppId=${options.appId ?? APP_ID},SignedHeaders=${names},Signature=${signature}`,
    },
  };
}

describe('app authentication', () => {
  let service: ServiceProcess;
  let host: string;
  const userId = `u-${randomUUID()}`;
  const containerId = `c-${randomUUID()}`;

  before(async () => {
    await testRedis().set(`koodrive:user:${userId}`, JSON.stringify({ containerId }));
    service = await ServiceProcess.start({ APP_CREDENTIALS, LOG_LEVEL: 'info' });
    host = new URL(service.baseUrl).host;
  });
  after(async () => {
    await service.stop();
    await closeTestRedis();
    await closeTestDb();
  });

  const post = async (signed: Signed): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> => {
    const response = await fetch(`${service.baseUrl}${CREATE_PATH}`, {
      method: 'POST',
      headers: signed.headers,
      body: signed.body,
    });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
      headers: response.headers,
    };
  };
  const newBody = (): string => JSON.stringify({ fileName: `app-${randomUUID()}.txt`, length: 5 });

  it('accepts a request signed by hand with openssl, acting for the user in its container', async () => {
    const answer = await post(signByHand({ host, userId, body: newBody() }));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.code, 0);
    assert.equal(answer.body.containerId, containerId);
    const row = await fileRow(answer.body.fileId as string);
    assert.equal(row.ownerId, userId);
    assert.equal(row.containerId, containerId);
  });

  it('refuses a replayed signature, however soon', async () => {
    const signed = signByHand({ host, userId, body: newBody() });
    assert.equal((await post(signed)).body.code, 0);
    const replayed = await post(signed);
    assert.equal(replayed.status, 401);
    assert.equal(replayed.body.code, 13000901);
  });

  it('answers 401/13000901 for every bad signature, and says why only in the log', async () => {
    const now = Date.now();
    const cases: [string, Signed, RegExp][] = [
      ['wrong secret', signByHand({ host, userId, body: newBody(), secret: `${SECRET}x` }), /signature mismatch/],
      ['unknown app', signByHand({ host, userId, body: newBody(), appId: 'app-nobody' }), /unknown app app-nobody/],
      [
        'stale X-Date',
        signByHand({ host, userId, body: newBody(), date: new Date(now - 15 * 60_000 - 5_000) }),
        /stale/,
      ],
      ['future X-Date', signByHand({ host, userId, body: newBody(), date: new Date(now + 65_000) }), /future/],
      ['tampered body', { ...signByHand({ host, userId, body: newBody() }), body: newBody() }, /signature mismatch/],
      [
        'another user',
        (() => {
          const signed = signByHand({ host, userId, body: newBody() });
          return { ...signed, headers: { ...signed.headers, 'x-user-id': `${userId}x` } };
        })(),
        /signature mismatch/,
      ],
      [
        'upper-case signature',
        (() => {
          const signed = signByHand({ host, userId, body: newBody() });
          const authorization = signed.headers.authorization!.replace(
            /Signature=(\w+)/,
            (_, hex: string) => `Signature=${hex.toUpperCase()}`,
          );
          return { ...signed, headers: { ...signed.headers, authorization } };
        })(),
        /malformed app Authorization/,
      ],
      // the review's finding (issue 23): the service took signatures that left these out, so the
      // request could be sent to another host, or into another shared folder, under the same signature
      [
        'host not signed',
        signByHand({ host, userId, body: newBody(), unsigned: { host: true } }),
        /host is not signed/,
      ],
      [
        'shared folder not signed',
        signByHand({ host, userId, body: newBody(), unsigned: { shareFolder: 'sf-app' } }),
        /x-hw-share-folder-id is not signed/,
      ],
    ];
    for (const [what, signed, reason] of cases) {
      const answer = await post(signed);
      assert.equal(answer.status, 401, what);
      assert.deepEqual(answer.body, { code: 13000901, msg: 'Invalid access token.' }, what);
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      const xTraceid = answer.headers.get('x-traceid');
      assert.ok(xTraceid, what);
      // this request's own lines only (the log may come a moment after the answer): earlier cases'
      // reasons are in the log too
      const refused = await until(`the log says why: ${what}`, () => {
        const lines = requestLog(service.output, xTraceid).filter((line) => line.msg === 'authentication refused');
        return Promise.resolve(lines.length > 0 ? lines : undefined);
      });
      assert.equal(refused.length, 1, `${what}: ${JSON.stringify(refused)}`);
      assert.match(String(refused[0]!.reason), reason, what);
    }
  });

  it('takes an X-Date up to 15 minutes old and up to 60 s ahead', async () => {
    const now = Date.now();
    for (const date of [new Date(now - 14 * 60_000), new Date(now + 55_000)]) {
      const answer = await post(signByHand({ host, userId, body: newBody(), date }));
      assert.equal(answer.body.code, 0, date.toISOString());
    }
  });

  it('answers 13000410 for a user without a record and an app without file.upload', async () => {
    const noRecord = await post(signByHand({ host, userId: `u-${randomUUID()}`, body: newBody() }));
    assert.equal(noRecord.status, 400);
    assert.equal(noRecord.body.code, 13000410);
    const reader = await post(signByHand({ host, userId, body: newBody(), appId: READER_APP }));
    assert.equal(reader.status, 400);
    assert.equal(reader.body.code, 13000410);
  });
});

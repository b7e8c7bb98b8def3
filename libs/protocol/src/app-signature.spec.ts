import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  appSignature,
  canonicalQueryString,
  canonicalRequest,
  canonicalUri,
  formatXDate,
  parseAppAuthorization,
  parseAppCredentials,
  parseXDate,
  signAppRequest,
  stringToSign,
  verifyAppSignature,
  type VerifyAppSignatureInput,
  xDateVerdict,
} from './app-signature.js';

// Every expected value below was computed in a shell, not with the code under test:
//   BODY='{"fileName":"report.pdf","length":6291456}'
//   printf %s "$BODY" | sha256sum
//     -> a75edfcb2167b19b5067f616f7acbe827fa5a5b9e77549ab61e641f67f69e121
//   printf 'POST\n/koodrive/ose/v1/files/create/\n\nhost:upload.koodrive.example\nx-date:20240315T093000Z\nx-user-id:user-42\n\nhost;x-date;x-user-id\n%s' \
//     a75edfcb2167b19b5067f616f7acbe827fa5a5b9e77549ab61e641f67f69e121 > creq.txt
//   openssl dgst -sha256 -r creq.txt     (sha256sum creq.txt agrees)
//     -> 78b791525636f26852ebbec4d5b0edea46a4202d0389c877cae8e65f5b02d82a
//   printf 'HMAC-SHA256\n%s' 78b791525636f26852ebbec4d5b0edea46a4202d0389c877cae8e65f5b02d82a \
//     | openssl dgst -sha256 -hmac 'k00drive-test-secret-0123456789'
//     -> 6ac6e0b87f3a6f8bddb2eb3bacfb473f4706e73fbe6d5ebc15281a9d5ed29a56
const SECRET = 'k00drive-test-secret-0123456789';
const BODY = '{"fileName":"report.pdf","length":6291456}';
const BODY_SHA256 = 'a75edfcb2167b19b5067f616f7acbe827fa5a5b9e77549ab61e641f67f69e121';
const HEADERS = { host: 'upload.koodrive.example', 'x-date': '20240315T093000Z', 'x-user-id': 'user-42' };
const CANONICAL_REQUEST = [
  'POST',
  '/koodrive/ose/v1/files/create/',
  '',
  'host:upload.koodrive.example',
  'x-date:20240315T093000Z',
  'x-user-id:user-42',
  '',
  'host;x-date;x-user-id',
  BODY_SHA256,
].join('\n');
const STRING_TO_SIGN = 'HMAC-SHA256\n78b791525636f26852ebbec4d5b0edea46a4202d0389c877cae8e65f5b02d82a';
const SIGNATURE = '6ac6e0b87f3a6f8bddb2eb3bacfb473f4706e73fbe6d5ebc15281a9d5ed29a56';
const AUTHORIZATION = `HMAC-SHA256 AppId=app-demo,SignedHeaders=host;x-date;x-user-id,Signature=${SIGNATURE}`;

// A second vector: a query, an extra signed header, a value with spaces around it.
//   BODY2='{"fileId":"FiqNTAYdzXtKhenh29A9EXJvhaKQqcYVS","multiParts":[{"partNumber":1,"partSize":5242880}]}'
//   printf %s "$BODY2" | sha256sum
//     -> af11af35f315557b484b1989c784b63e588d22af2a0a4a9537b8e013df721394
//   printf 'POST\n/koodrive/ose/v1/files/multipart/uploadUrl/\na=x%%2Fy&z=~\ncontent-type:application/json\nhost:upload.koodrive.example\nx-date:20240315T093000Z\nx-user-id:user-42\n\ncontent-type;host;x-date;x-user-id\n%s' \
//     af11af35f315557b484b1989c784b63e588d22af2a0a4a9537b8e013df721394 > creq2.txt
//   openssl dgst -sha256 -r creq2.txt
//     -> 4faff5f345a5fa10f3ac030599b79bfd382e5c63dfb5928a8aeabfc4003ca194
//   printf 'HMAC-SHA256\n%s' 4faff5f345a5fa10f3ac030599b79bfd382e5c63dfb5928a8aeabfc4003ca194 \
//     | openssl dgst -sha256 -hmac 'k00drive-test-secret-0123456789'
//     -> 7400be9421fda0009b398a0465dc8bf03e2d0a8812c5ed4308340c01846ed72b
const BODY2 = '{"fileId":"FiqNTAYdzXtKhenh29A9EXJvhaKQqcYVS","multiParts":[{"partNumber":1,"partSize":5242880}]}';
const SIGNATURE2 = '7400be9421fda0009b398a0465dc8bf03e2d0a8812c5ed4308340c01846ed72b';

const sha256Hex = (data: string): string => createHash('sha256').update(data).digest('hex');

const fixedRequest = (overrides: Partial<VerifyAppSignatureInput> = {}): VerifyAppSignatureInput => ({
  authorization: parseAppAuthorization(AUTHORIZATION) ?? assert.fail('the fixed header parses'),
  secret: SECRET,
  method: 'POST',
  path: '/koodrive/ose/v1/files/create',
  query: '',
  headers: { ...HEADERS, 'content-type': 'application/json' },
  payloadSha256Hex: BODY_SHA256,
  ...overrides,
});

describe('app signature: the fixed vector', () => {
  it('matches the body digest, canonical request, string to sign and signature computed in the shell', () => {
    assert.equal(sha256Hex(BODY), BODY_SHA256);
    const canonical = canonicalRequest({
      method: 'POST',
      path: '/koodrive/ose/v1/files/create',
      query: '',
      headers: HEADERS,
      signedHeaders: ['x-user-id', 'host', 'x-date'],
      payloadSha256Hex: BODY_SHA256,
    });
    assert.equal(canonical, CANONICAL_REQUEST);
    assert.equal(stringToSign(canonical), STRING_TO_SIGN);
    assert.equal(appSignature(SECRET, STRING_TO_SIGN), SIGNATURE);
  });

  it('signs a client request into the Authorization header KooDrive documents', () => {
    const signed = signAppRequest({
      appId: 'app-demo',
      secret: SECRET,
      method: 'POST',
      path: '/koodrive/ose/v1/files/create',
      headers: { ...HEADERS, 'content-type': 'application/json' },
      body: BODY,
    });
    assert.equal(signed.authorization, AUTHORIZATION);
    assert.deepEqual(verifyAppSignature(fixedRequest()), { ok: true });
  });

  it('signs a query and the extra headers the caller lists (the second vector)', () => {
    const request = {
      method: 'post',
      path: '/koodrive/ose/v1/files/multipart/uploadUrl',
      query: 'z=%7e&a=x%2fy',
      headers: { ...HEADERS, 'x-user-id': ' user-42\t', 'content-type': 'application/json' },
    };
    const { authorization } = signAppRequest({
      ...request,
      appId: 'app-demo',
      secret: SECRET,
      signedHeaders: ['Content-Type'],
      body: Buffer.from(BODY2),
    });
    assert.equal(
      authorization,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=content-type;host;x-date;x-user-id,Signature=${SIGNATURE2}`,
    );
    const parsed = parseAppAuthorization(authorization) ?? assert.fail('parses');
    const verdict = verifyAppSignature({
      ...request,
      authorization: parsed,
      secret: SECRET,
      payloadSha256Hex: sha256Hex(BODY2),
    });
    assert.deepEqual(verdict, { ok: true });
  });
});

describe(canonicalUri.name, () => {
  it('appends a / when the path does not end in one', () => {
    assert.equal(canonicalUri('/koodrive/ose/v1/files/create'), '/koodrive/ose/v1/files/create/');
    assert.equal(canonicalUri('/koodrive/ose/v1/files/create/'), '/koodrive/ose/v1/files/create/');
    assert.equal(canonicalUri('/'), '/');
    assert.equal(canonicalUri(''), '/');
  });

  it('encodes each segment per RFC 3986, decoding first so escapes and characters agree', () => {
    assert.equal(canonicalUri('/a/%7e~/b'), '/a/~~/b/');
    assert.equal(canonicalUri('/a b/%2f/c'), '/a%20b/%2F/c/');
    assert.equal(canonicalUri('/caf\u00e9'), '/caf%C3%A9/');
    assert.equal(canonicalUri('/caf%c3%a9'), '/caf%C3%A9/');
    assert.equal(canonicalUri('/A-Z_a.z~0'), '/A-Z_a.z~0/');
    assert.equal(canonicalUri('/x+y/!*'), '/x%2By/%21%2A/');
    // a stray % is a literal per cent sign
    assert.equal(canonicalUri('/100%/%zz'), '/100%25/%25zz/');
  });
});

describe(canonicalQueryString.name, () => {
  it('is empty for no query', () => {
    assert.equal(canonicalQueryString(''), '');
    assert.equal(canonicalQueryString('?'), '');
  });

  it('sorts by name, then value, by bytes of the encoded form', () => {
    assert.equal(canonicalQueryString('b=2&a=1'), 'a=1&b=2');
    assert.equal(canonicalQueryString('a=2&a=1&a=10'), 'a=1&a=10&a=2');
    assert.equal(canonicalQueryString('b=1&B=1&_=1'), 'B=1&_=1&b=1');
    assert.equal(canonicalQueryString('?b=2&a=1'), 'a=1&b=2');
  });

  it('encodes names and values per RFC 3986, upper-case hex, unreserved as they are', () => {
    assert.equal(canonicalQueryString('q=a%20b&r=%7e&s=a+b'), 'q=a%20b&r=~&s=a%2Bb');
    assert.equal(canonicalQueryString('n%c3%a9=%e4%b8%ad'), 'n%C3%A9=%E4%B8%AD');
    assert.equal(canonicalQueryString('k=a=b'), 'k=a%3Db');
  });

  it('writes a name without = as name=, and skips empty pairs', () => {
    assert.equal(canonicalQueryString('flag&&a=1&'), 'a=1&flag=');
  });
});

describe(parseAppAuthorization.name, () => {
  it('reads the documented form, with or without spaces after the commas', () => {
    const expected = { appId: 'app-demo', signedHeaders: ['host', 'x-date', 'x-user-id'], signature: SIGNATURE };
    assert.deepEqual(parseAppAuthorization(AUTHORIZATION), expected);
    assert.deepEqual(
      parseAppAuthorization(`HMAC-SHA256 AppId=app-demo, SignedHeaders=host;x-date;x-user-id,  Signature=${SIGNATURE}`),
      expected,
    );
    assert.deepEqual(
      parseAppAuthorization(`HMAC-SHA256 AppId=a.B_9-z,SignedHeaders=x-date;x-user-id,Signature=${SIGNATURE}`),
      {
        appId: 'a.B_9-z',
        signedHeaders: ['x-date', 'x-user-id'],
        signature: SIGNATURE,
      },
    );
  });

  it('returns null for anything malformed', () => {
    const names = 'host;x-date;x-user-id';
    for (const bad of [
      '',
      `Bearer ${SIGNATURE}`,
      `hmac-sha256 AppId=app-demo,SignedHeaders=${names},Signature=${SIGNATURE}`,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=${names},Signature=${SIGNATURE.toUpperCase()}`,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=${names},Signature=${SIGNATURE.slice(1)}`,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=${names},Signature=${SIGNATURE}0`,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=${names},Signature=${SIGNATURE} `,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=x-date;host;x-user-id,Signature=${SIGNATURE}`,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=host;x-date;x-date;x-user-id,Signature=${SIGNATURE}`,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=Host;x-date;x-user-id,Signature=${SIGNATURE}`,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=host;;x-date;x-user-id,Signature=${SIGNATURE}`,
      `HMAC-SHA256 AppId=app demo,SignedHeaders=${names},Signature=${SIGNATURE}`,
      `HMAC-SHA256 AppId=,SignedHeaders=${names},Signature=${SIGNATURE}`,
      `HMAC-SHA256 AppId=${'a'.repeat(65)},SignedHeaders=${names},Signature=${SIGNATURE}`,
      `HMAC-SHA256 SignedHeaders=${names},AppId=app-demo,Signature=${SIGNATURE}`,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=${names}`,
      `HMAC-SHA256 AppId=app-demo ,SignedHeaders=${names},Signature=${SIGNATURE}`,
    ]) {
      assert.equal(parseAppAuthorization(bad), null, bad);
    }
  });
});

describe(verifyAppSignature.name, () => {
  it('accepts the fixed request, whatever its unsigned headers and its path in either form', () => {
    assert.deepEqual(verifyAppSignature(fixedRequest({ headers: { ...HEADERS, 'content-type': 'text/plain' } })), {
      ok: true,
    });
    assert.deepEqual(verifyAppSignature(fixedRequest({ path: '/koodrive/ose/v1/files/create/' })), { ok: true });
  });

  it('refuses a tampered body, signed header, method, path, query or secret', () => {
    for (const [label, overrides] of [
      ['body', { payloadSha256Hex: sha256Hex('{"fileName":"report.pdf","length":6291457}') }],
      ['x-user-id', { headers: { ...HEADERS, 'x-user-id': 'user-43' } }],
      ['x-date', { headers: { ...HEADERS, 'x-date': '20240315T093001Z' } }],
      ['host', { headers: { ...HEADERS, host: 'evil.example' } }],
      ['method', { method: 'PUT' }],
      ['path', { path: '/koodrive/ose/v1/files/complete' }],
      ['query', { query: 'a=1' }],
      ['secret', { secret: 'k00drive-test-secret-0123456788' }],
    ] as const) {
      assert.deepEqual(verifyAppSignature(fixedRequest(overrides)), { ok: false, reason: 'signature mismatch' }, label);
    }
  });

  it('refuses a signature of the right form that is not the right one', () => {
    const authorization = {
      appId: 'app-demo',
      signedHeaders: ['host', 'x-date', 'x-user-id'],
      signature: '0'.repeat(64),
    };
    assert.equal(verifyAppSignature(fixedRequest({ authorization })).ok, false);
  });

  it('says which signed header is missing or repeated, for the log', () => {
    const withoutHost = { 'x-date': HEADERS['x-date'], 'x-user-id': HEADERS['x-user-id'] };
    assert.deepEqual(verifyAppSignature(fixedRequest({ headers: withoutHost })), {
      ok: false,
      reason: 'signed header host is missing',
    });
    assert.deepEqual(verifyAppSignature(fixedRequest({ headers: { ...HEADERS, 'x-date': ['a', 'b'] } })), {
      ok: false,
      reason: 'signed header x-date is repeated',
    });
  });

  it('needs host, x-date and x-user-id signed, and names the one that is not', () => {
    for (const [names, unsigned] of [
      ['host;x-date', 'x-user-id'],
      ['host;x-user-id', 'x-date'],
      ['x-date;x-user-id', 'host'],
      ['content-type;x-date;x-user-id', 'host'],
    ] as const) {
      const authorization = parseAppAuthorization(
        `HMAC-SHA256 AppId=app-demo,SignedHeaders=${names},Signature=${SIGNATURE}`,
      );
      assert.notEqual(authorization, null, names);
      assert.deepEqual(verifyAppSignature(fixedRequest({ authorization: authorization! })), {
        ok: false,
        reason: `${unsigned} is not signed`,
      });
    }
  });

  // A third vector, with the shared folder signed (computed in the shell, as the first):
  //   printf 'POST\n/koodrive/ose/v1/files/create/\n\nhost:upload.koodrive.example\nx-date:20240315T093000Z\nx-hw-share-folder-id:folder-7\nx-user-id:user-42\n\nhost;x-date;x-hw-share-folder-id;x-user-id\n%s' \
  //     a75edfcb2167b19b5067f616f7acbe827fa5a5b9e77549ab61e641f67f69e121 > creq3.txt
  //   openssl dgst -sha256 -r creq3.txt
  //     -> 9d3560aa78f1a299f9d4a021c6433e013501814ecbb23951c21dae01d7336169
  //   printf 'HMAC-SHA256\n%s' 9d3560aa78f1a299f9d4a021c6433e013501814ecbb23951c21dae01d7336169 \
  //     | openssl dgst -sha256 -hmac 'k00drive-test-secret-0123456789'
  //     -> facd944c73e86a3252c72e4e48c81576d8e29dbb735e33c7de9f3ed36a2549d5
  it('needs every x-hw-* header the request carries signed: x-hw-share-folder-id', () => {
    const sharedHeaders = { ...HEADERS, 'x-hw-share-folder-id': 'folder-7' };
    const signature = 'facd944c73e86a3252c72e4e48c81576d8e29dbb735e33c7de9f3ed36a2549d5';
    const signed = parseAppAuthorization(
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=host;x-date;x-hw-share-folder-id;x-user-id,Signature=${signature}`,
    )!;
    assert.deepEqual(verifyAppSignature(fixedRequest({ authorization: signed, headers: sharedHeaders })), { ok: true });
    assert.equal(
      signAppRequest({
        appId: 'app-demo',
        secret: SECRET,
        method: 'POST',
        path: '/koodrive/ose/v1/files/create',
        headers: sharedHeaders,
        body: BODY,
      }).authorization,
      `HMAC-SHA256 AppId=app-demo,SignedHeaders=host;x-date;x-hw-share-folder-id;x-user-id,Signature=${signature}`,
      'the signer signs the x-hw-* headers it is given',
    );
    // the folder carried but left out of the signature: it could be swapped in transit
    assert.deepEqual(verifyAppSignature(fixedRequest({ headers: sharedHeaders })), {
      ok: false,
      reason: 'x-hw-share-folder-id is not signed',
    });
    assert.deepEqual(verifyAppSignature(fixedRequest({ headers: { ...sharedHeaders, 'x-hw-other': 'x' } })).ok, false);
  });
});

describe('X-Date', () => {
  it('formats and parses yyyyMMddTHHmmssZ in UTC', () => {
    const date = new Date('2024-03-15T09:30:00.999Z');
    assert.equal(formatXDate(date), '20240315T093000Z');
    assert.deepEqual(parseXDate('20240315T093000Z'), new Date('2024-03-15T09:30:00Z'));
    assert.deepEqual(parseXDate('20240229T235959Z'), new Date('2024-02-29T23:59:59Z'));
  });

  it('rejects impossible dates and other forms', () => {
    for (const bad of [
      '20230229T000000Z',
      '20240230T000000Z',
      '20241301T000000Z',
      '20240001T000000Z',
      '20240100T000000Z',
      '20240101T240000Z',
      '20240101T236000Z',
      '20240101T235960Z',
      '20240101T000000',
      '20240101t000000Z',
      '2024-01-01T00:00:00Z',
      '20240101T000000.000Z',
      ' 20240101T000000Z',
      '',
    ]) {
      assert.equal(parseXDate(bad), null, bad);
    }
  });

  it('is ok from 15 minutes in the past to 60 s in the future, edges included', () => {
    const xDate = new Date('2024-03-15T09:30:00Z');
    const at = (offsetMs: number): Date => new Date(xDate.getTime() + offsetMs);
    assert.equal(xDateVerdict(xDate, at(0)), 'ok');
    assert.equal(xDateVerdict(xDate, at(15 * 60_000)), 'ok');
    assert.equal(xDateVerdict(xDate, at(15 * 60_000 + 1)), 'stale');
    assert.equal(xDateVerdict(xDate, at(-60_000)), 'ok');
    assert.equal(xDateVerdict(xDate, at(-60_000 - 1)), 'future');
  });
});

describe(parseAppCredentials.name, () => {
  it('reads appId to secret and scopes', () => {
    const apps = parseAppCredentials(
      JSON.stringify({
        'app-demo': { secret: SECRET, scopes: ['file.upload'] },
        'other.app_2': { secret: SECRET, scopes: [] },
      }),
    );
    assert.deepEqual([...apps.keys()], ['app-demo', 'other.app_2']);
    assert.deepEqual(apps.get('app-demo'), { secret: SECRET, scopes: ['file.upload'] });
    assert.deepEqual(parseAppCredentials('{}').size, 0);
  });

  it('names what is wrong, and never the secret', () => {
    const app = (entry: unknown): string => JSON.stringify({ 'app-demo': entry });
    for (const [json, message] of [
      ['not json', /must be JSON/],
      ['[]', /must be a JSON object of appId/],
      ['null', /must be a JSON object of appId/],
      [JSON.stringify({ 'app demo': { secret: SECRET, scopes: [] } }), /app "app demo": appId must be 1-64 characters/],
      [JSON.stringify({ ['a'.repeat(65)]: { secret: SECRET, scopes: [] } }), /appId must be 1-64 characters/],
      [app('secret'), /app "app-demo": must be an object/],
      [
        app({ secret: 'short-secret', scopes: [] }),
        /app "app-demo": secret must be a string of at least 16 characters/,
      ],
      [app({ secret: 1234567890123456, scopes: [] }), /secret must be a string/],
      [app({ scopes: [] }), /secret must be a string/],
      [app({ secret: SECRET }), /app "app-demo": scopes must be an array of strings/],
      [app({ secret: SECRET, scopes: 'file.upload' }), /scopes must be an array of strings/],
      [app({ secret: SECRET, scopes: ['file.upload', 7] }), /scopes must be an array of strings/],
    ] as const) {
      assert.throws(
        () => parseAppCredentials(json),
        (error: unknown) =>
          error instanceof Error && message.test(error.message) && !error.message.includes('short-secret'),
        json,
      );
    }
  });
});

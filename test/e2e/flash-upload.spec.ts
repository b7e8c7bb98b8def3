// Flash upload (API.md, create: rapidUpload and proofCode): content the caller's container holds
// is reused at once; content only another container holds, only with a valid proofCode, checked
// against the stored bytes; and only content whose digest the service established from its bytes.
import '../support/test-env.ts';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { formatXDate, signAppRequest } from '@koodrive/protocol';
import { sessionKey } from '@koodrive/protocol';
import {
  call,
  fileRow,
  newUser,
  sha256Hex,
  testBytes,
  testDb,
  testRedis,
  type TestUser,
  upload,
  useTestApp,
} from '../support/harness.ts';

// The worked example, each number computed in a shell, not by the service's code:
//   the file: 6291456 bytes, byte i = (i * 7 + 3) % 256
//     python3 -c "import hashlib; print(hashlib.sha256(bytes((i*7+3)%256 for i in range(6291456))).hexdigest())"
//   AUTH='Bearer+proof-example-token-0001'; SEED=$(printf %s "$AUTH" | sha256sum | cut -d' ' -f1)
//   H=$(printf %s "$SEED" | sha256sum | cut -d' ' -f1)      # h; its bytes 24..32 are its last 16 hex digits
//   python3 -c "print((int('$H'[48:], 16) & (2**63 - 1)) % 6291456)"   # start
//   the 8 bytes [start, start + 8), written to a file: sha256sum of it is the proof
const LENGTH = 6291456;
const FILE_SHA256 = '49a3f2f9537cb294da34870d031ac2963abf8b9efec219089de71dfd76caf0f9';
const SESSION = {
  token: 'proof-example-token-0001',
  authorization: 'Bearer+proof-example-token-0001',
  seed: '9def377c9c32e9aec081ded98c0ed963e5afecd6f11234c261a202cb0bfd01ae',
  h: 'c97beaec338b21d581b5b892e76dd6e3fc9d1f1f740246459df27c1fa4fb4a26',
  start: 5982758,
  bytes: '0d141b222930373e',
  proof: '9f220f7ba1542b3d65376c70420658a28fff26661ba501a95d0894afa1dab9e4',
};
// under app authentication the seed is X-User-Id's: the same commands with U='proof-user-7'
const APP_USER = {
  userId: 'proof-user-7',
  seed: '48e0c6d3846a3dcf5e6cf326264cc83e203f998665eb6e896760608c3f2e4606',
  start: 733531,
  bytes: '80878e959ca3aab1',
  proof: 'b96ff6075398279da7c3c4f8bf1595448baa3a2710f162d588fe0059cc06b67b',
};
const APP = { appId: 'flash-app', secret: 'a-flash-app-secret-0123456789' };

function fixture(): Buffer {
  const data = Buffer.alloc(LENGTH);
  for (let i = 0; i < LENGTH; i++) {
    data[i] = (i * 7 + 3) % 256;
  }
  return data;
}

describe('flash upload', () => {
  const app = useTestApp({
    APP_CREDENTIALS: JSON.stringify({ [APP.appId]: { secret: APP.secret, scopes: ['file.upload'] } }),
  });
  const data = fixture();
  let owner: TestUser;

  const create = (authorization: string, extra: object = {}) =>
    call(
      app().baseUrl,
      'create',
      { fileName: `flash-${randomUUID()}.bin`, length: LENGTH, sha256: FILE_SHA256, ...extra },
      { headers: { authorization } },
    );

  it('holds the worked example: the fixture is the digest and the 8 bytes the example says', async () => {
    assert.equal(sha256Hex(data), FILE_SHA256);
    assert.equal(data.subarray(SESSION.start, SESSION.start + 8).toString('hex'), SESSION.bytes);
    assert.equal(data.subarray(APP_USER.start, APP_USER.start + 8).toString('hex'), APP_USER.bytes);
    // earlier runs' rows of this fixed content point at objects the test teardown has removed since
    await testDb().file.deleteMany({ where: { actualSha256: FILE_SHA256 } });
    owner = await newUser();
    const { fileId } = await upload(app().baseUrl, owner, data, { parallel: true });
    assert.equal((await call(app().baseUrl, 'complete', { fileId }, { token: owner.token })).body.code, 0);
  });

  it("reuses content of the caller's own container without a proof", async () => {
    const again = await create(`Bearer ${owner.token}`);
    assert.equal(again.body.code, 0);
    assert.equal(again.body.rapidUpload, true);
    assert.equal(again.body.uploadId, '');
    assert.deepEqual(again.body.multiParts, []);
  });

  it("reuses another container's content only with the proofCode of the caller's seed", async () => {
    await testRedis().set(
      sessionKey(SESSION.token),
      JSON.stringify({ userId: `u-${randomUUID()}`, containerId: `c-${randomUUID()}`, scopes: ['file.upload'] }),
      'EX',
      1200,
    );
    assert.equal((await create(SESSION.authorization)).body.rapidUpload, false, 'no proof: an upload as usual');
    const wrong = await create(SESSION.authorization, { proofCode: APP_USER.proof });
    assert.equal(wrong.body.code, 0, 'a wrong proof is not an error');
    assert.equal(wrong.body.rapidUpload, false);
    const proven = await create(SESSION.authorization, { proofCode: SESSION.proof });
    assert.equal(proven.body.rapidUpload, true, JSON.stringify(proven.body));
    const row = await fileRow(proven.body.fileId as string);
    assert.equal(row.status, 'COMPLETED');
    assert.equal(row.actualSha256, FILE_SHA256);
  });

  it('seeds the proof with X-User-Id under app authentication', async () => {
    await testRedis().set(`koodrive:user:${APP_USER.userId}`, JSON.stringify({ containerId: `c-${randomUUID()}` }));
    const url = new URL(`${app().baseUrl}/koodrive/ose/v1/files/create`);
    const body = JSON.stringify({
      fileName: `flash-${randomUUID()}.bin`,
      length: LENGTH,
      sha256: FILE_SHA256,
      proofCode: APP_USER.proof,
    });
    const headers = {
      host: url.host,
      'x-date': formatXDate(new Date()),
      'x-user-id': APP_USER.userId,
      'content-type': 'application/json',
    };
    const { authorization } = signAppRequest({ ...APP, method: 'POST', path: url.pathname, headers, body });
    const response = await fetch(url, { method: 'POST', headers: { ...headers, authorization }, body });
    const answer = (await response.json()) as Record<string, unknown>;
    assert.equal(answer.code, 0, JSON.stringify(answer));
    assert.equal(answer.rapidUpload, true);
  });

  it('stores preHash, and never reuses content whose digest was not established from its bytes', async () => {
    const user = await newUser();
    const small = testBytes(3000, 72);
    const preHash = sha256Hex(small.subarray(0, 1024));
    const created = await call(
      app().baseUrl,
      'create',
      { fileName: `p-${randomUUID()}.bin`, length: small.length, preHash: preHash.toUpperCase() },
      { token: user.token },
    );
    assert.equal((await fileRow(created.body.fileId as string)).preHash, preHash);
    const { fileId } = await upload(app().baseUrl, user, small);
    assert.equal((await call(app().baseUrl, 'complete', { fileId }, { token: user.token })).body.code, 0);
    // a completed row from before digests were tied to the stored bytes has no verifiedBy
    await testDb().file.update({ where: { id: fileId }, data: { verifiedBy: null } });
    const again = await call(
      app().baseUrl,
      'create',
      { fileName: `p-${randomUUID()}.bin`, length: small.length, sha256: sha256Hex(small) },
      { token: user.token },
    );
    assert.equal(again.body.rapidUpload, false);
  });
});

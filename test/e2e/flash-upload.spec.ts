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
// the review attack's file (below)
const REVIEW_SHA256 = '5aabfc6d9203cbf00c0ea6fec2b77137ed32025ce61607a9a35dd4c4258bdeb5';

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

  // The outside review's attack (issue 23, finding 1): the proof's window moved with the spelling of
  // `Bearer`, and the guard accepts 128 spellings, so a caller could pick a window inside a part of
  // someone's file it knows (a public template) and claim the whole file with 8 known bytes.
  //   the file: 65536 bytes; bytes 0..8191 the public template, byte i = (i * 13 + 5) % 256; the rest
  //   the owner's own, byte i = (i * 7919 + 17) % 251
  //     python3 -c "import hashlib; print(hashlib.sha256(bytes(((i*13+5)%256) if i<8192 else ((i*7919+17)%251) for i in range(65536))).hexdigest())"
  //   for A in 'BEarer review-attacker-0019' 'Bearer review-attacker-0019' 'Bearer+review-attacker-0019'; do
  //     S=$(printf %s "$A" | sha256sum | cut -d' ' -f1); H=$(printf %s "$S" | sha256sum | cut -d' ' -f1)
  //     python3 -c "print((int('$H'[48:], 16) & (2**63 - 1)) % 65536)"; done      # 2540, 18423, 41651
  //   the template's bytes [2540, 2548): python3 -c "import sys; sys.stdout.buffer.write(bytes(((i*13+5)%256) for i in range(2540,2548)))" | sha256sum
  // Of the 128 spellings 12 put the window inside the template; the two documented ones do not.
  describe('a proof seeded from a re-spelled Bearer (the review attack)', () => {
    const REVIEW = {
      length: 65536,
      sha256: REVIEW_SHA256,
      token: 'review-attacker-0019',
      respelled: { authorization: 'BEarer review-attacker-0019', start: 2540 },
      // the documented spellings' windows lie outside the template: bytes the attacker does not know
      documented: { 'Bearer ': 18423, 'Bearer+': 41651 },
      templateProof: '82d027fc3d645e51f2d8d93ecc1438def8b080f4d7f8c2126f76ebd7eb8e8529',
    };
    const TEMPLATE_BYTES = 8192;
    const reviewFile = (): Buffer => {
      const file = Buffer.alloc(REVIEW.length);
      for (let i = 0; i < REVIEW.length; i++) {
        file[i] = i < TEMPLATE_BYTES ? (i * 13 + 5) % 256 : (i * 7919 + 17) % 251;
      }
      return file;
    };

    it("the victim's file holds the template, and the attacker's spellings give the windows written above", async () => {
      const file = reviewFile();
      assert.equal(sha256Hex(file), REVIEW.sha256);
      assert.equal(sha256Hex(file.subarray(REVIEW.respelled.start, REVIEW.respelled.start + 8)), REVIEW.templateProof);
      for (const start of [REVIEW.respelled.start]) {
        assert.ok(start + 8 <= TEMPLATE_BYTES, 'the re-spelled window lies in the template');
      }
      for (const start of Object.values(REVIEW.documented)) {
        assert.ok(start >= TEMPLATE_BYTES, 'the documented windows lie past the template');
      }
      await testDb().file.deleteMany({ where: { actualSha256: REVIEW.sha256 } });
      const victim = await newUser();
      const { fileId } = await upload(app().baseUrl, victim, file, { parallel: true });
      assert.equal((await call(app().baseUrl, 'complete', { fileId }, { token: victim.token })).body.code, 0);
    });

    it('authenticates the re-spelled header, but gives no flash upload of another container for it', async () => {
      const attacker = { userId: `u-${randomUUID()}`, containerId: `c-${randomUUID()}`, scopes: ['file.upload'] };
      await testRedis().set(sessionKey(REVIEW.token), JSON.stringify(attacker), 'EX', 1200);
      const answer = await call(
        app().baseUrl,
        'create',
        {
          fileName: `review-${randomUUID()}.bin`,
          length: REVIEW.length,
          sha256: REVIEW.sha256,
          proofCode: REVIEW.templateProof,
        },
        { headers: { authorization: REVIEW.respelled.authorization } },
      );
      assert.equal(answer.body.code, 0, 'any accepted spelling authenticates');
      assert.equal(answer.body.rapidUpload, false, 'but seeds no proof');
      assert.notEqual(answer.body.uploadId, '', 'an ordinary upload task instead');
      assert.equal((await fileRow(answer.body.fileId as string)).status, 'UPLOADING');
    });
  });

  // Wrong proofs counted per user and digest (issue 23): after 3 within 24 hours, no flash upload
  // of that digest across containers for that user, from any session or app, even with the right
  // proof. Each right proof below was computed in the shell as the worked example's, on the fixture:
  //   for A in 'Bearer proof-limit-token-0001' 'Bearer proof-limit-token-0002' 'Bearer proof-limit-token-0003' u-proof-limit-7; do
  //     S=$(printf %s "$A" | sha256sum | cut -d' ' -f1); H=$(printf %s "$S" | sha256sum | cut -d' ' -f1)
  //     ST=$(python3 -c "print((int('$H'[48:], 16) & (2**63 - 1)) % 6291456)")
  //     python3 -c "import sys; sys.stdout.buffer.write(bytes(((i*7+3)%256) for i in range($ST,$ST+8)))" | sha256sum; done
  // and token 0001's proof of the review file above (65536 bytes, its bytes as written there): start 30606.
  describe('wrong proofs, counted per user and digest', () => {
    const LIMITED_USER = 'u-proof-limit-7';
    const proofs = {
      first: {
        token: 'proof-limit-token-0001',
        proof: '8a5bed7a7bb77e76bf68e85e4eed8dc271e5ed7a07247c328ab0654015bf07a4',
      },
      second: {
        token: 'proof-limit-token-0002',
        proof: 'fb157767b03e754cfdbcc7a6f06e416ac23040ea3dfdfcf4b18f8874a75fb939',
      },
      other: {
        token: 'proof-limit-token-0003',
        proof: '6f7ee3d372b74244e4c6be05b9d57a8223b1d5521eef3e587d26f2be79af2312',
      },
      app: '0ff3e672737455c1f7f320657fe82cff9e438985dff6b1564ca05565e36c1b44',
      firstOfReviewFile: 'e47b53d4ceaf8558a5b7ee42ecfbcb21145156df6641a27f7885ededd03e164b',
    };
    const session = async (token: string, userId: string): Promise<void> => {
      const record = { userId, containerId: `c-${randomUUID()}`, scopes: ['file.upload'] };
      await testRedis().set(sessionKey(token), JSON.stringify(record), 'EX', 1200);
    };
    const flash = async (token: string, proofCode: string, file = { length: LENGTH, sha256: FILE_SHA256 }) => {
      const answer = await call(
        app().baseUrl,
        'create',
        { fileName: `limit-${randomUUID()}.bin`, ...file, proofCode },
        { headers: { authorization: `Bearer ${token}` } },
      );
      assert.equal(answer.body.code, 0, JSON.stringify(answer.body));
      return answer.body.rapidUpload;
    };

    it('refuses the right proof after 3 wrong ones, in every session and app of that user, for that digest only', async () => {
      await testRedis().del(`koodrive:proof-failures:${LIMITED_USER}:${FILE_SHA256}`);
      await session(proofs.first.token, LIMITED_USER);
      await session(proofs.second.token, LIMITED_USER);
      await session(proofs.other.token, `u-${randomUUID()}`);
      for (let wrong = 1; wrong <= 3; wrong++) {
        assert.equal(await flash(proofs.first.token, randomUUID().replaceAll('-', '').repeat(2)), false);
      }
      assert.equal(await flash(proofs.first.token, proofs.first.proof), false, 'the right proof, after 3 wrong');
      assert.equal(await flash(proofs.second.token, proofs.second.proof), false, "the same user's other session");
      await testRedis().set(`koodrive:user:${LIMITED_USER}`, JSON.stringify({ containerId: `c-${randomUUID()}` }));
      const url = new URL(`${app().baseUrl}/koodrive/ose/v1/files/create`);
      const body = JSON.stringify({
        fileName: `limit-${randomUUID()}.bin`,
        length: LENGTH,
        sha256: FILE_SHA256,
        proofCode: proofs.app,
      });
      const headers = {
        host: url.host,
        'x-date': formatXDate(new Date()),
        'x-user-id': LIMITED_USER,
        'content-type': 'application/json',
      };
      const { authorization } = signAppRequest({ ...APP, method: 'POST', path: url.pathname, headers, body });
      const byApp = (await (
        await fetch(url, { method: 'POST', headers: { ...headers, authorization }, body })
      ).json()) as {
        code: number;
        rapidUpload: boolean;
      };
      assert.deepEqual([byApp.code, byApp.rapidUpload], [0, false], 'an app acting for that user');
      assert.equal(await flash(proofs.other.token, proofs.other.proof), true, 'another user, with its right proof');
      assert.equal(
        await flash(proofs.first.token, proofs.firstOfReviewFile, { length: 65536, sha256: REVIEW_SHA256 }),
        true,
        'the same user, another digest',
      );
    });
  });
});

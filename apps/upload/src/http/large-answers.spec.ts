import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SLICE, serializeLongLists, serializeReply } from './large-answers.js';

const entry = (i: number) => ({
  partNumber: i + 1,
  partSize: 5 * 1024 * 1024,
  ...(i % 2 === 0 ? {} : { hashCtx: [i, 2, 3, 4, 5, 6, 7, 8] }),
  uploadUrl: `https://s3.example/b/k?partNumber=${i + 1}&X-Amz-Signature=${'ab'.repeat(32)}`,
  note: i === 7 ? 'quote " backslash \\ newline \n é' : undefined,
});

describe('large answers', () => {
  it("writes a long list's answer byte for byte as JSON.stringify would, a slice at a time", async () => {
    for (const length of [SLICE + 1, 2 * SLICE, 2 * SLICE + 3, 10_000]) {
      const body = { code: 0, msg: 'success.', fileId: 'Fi1', multiParts: Array.from({ length }, (_, i) => entry(i)) };
      const sent = serializeReply(await serializeLongLists(body));
      assert.ok(Buffer.isBuffer(sent), `${length}: sent as bytes`);
      assert.equal(sent.toString('utf8'), JSON.stringify(body), `${length} entries`);
    }
  });

  it('leaves short lists and other answers to JSON.stringify, as a string', async () => {
    const body = {
      code: 0,
      msg: 'success.',
      multiParts: Array.from({ length: SLICE }, (_, i) => entry(i)),
      other: [1],
    };
    const prepared = await serializeLongLists(body);
    assert.equal(prepared, body, 'nothing to prepare');
    assert.equal(serializeReply(prepared), JSON.stringify(body));
    assert.equal(serializeReply({ code: 13000102, msg: 'x' }), '{"code":13000102,"msg":"x"}');
  });

  it('splices two long lists each in its own place', async () => {
    const body = {
      first: Array.from({ length: SLICE + 5 }, (_, i) => i),
      middle: 'm',
      second: Array.from({ length: SLICE + 9 }, (_, i) => `s${i}`),
    };
    assert.equal(serializeReply(await serializeLongLists(body)).toString(), JSON.stringify(body));
  });
});

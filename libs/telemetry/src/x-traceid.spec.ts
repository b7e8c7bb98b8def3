import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newXTraceid, parentSpanIdFromXTraceid, parseXTraceid, traceIdFromXTraceid } from './x-traceid.js';

describe('X-Traceid', () => {
  it('accepts 1-64 characters of [A-Za-z0-9_-] and ignores anything else', () => {
    assert.equal(parseXTraceid('a'), 'a');
    assert.equal(parseXTraceid('A-z_9'.repeat(12) + 'abcd'), 'A-z_9'.repeat(12) + 'abcd');
    for (const bad of [undefined, '', 'x'.repeat(65), 'a b', 'a\nb', 'ü', 'x'.repeat(10_000)]) {
      assert.equal(parseXTraceid(bad), undefined);
    }
    assert.equal(parseXTraceid(['first', 'second']), 'first');
  });

  it('derives one trace id per X-Traceid, deterministically', () => {
    const id = 'KooDrive_58_characters_trace_id_0000000000000000000000000';
    assert.equal(traceIdFromXTraceid(id), traceIdFromXTraceid(id));
    assert.match(traceIdFromXTraceid(id), /^[0-9a-f]{32}$/);
    assert.notEqual(traceIdFromXTraceid(id), traceIdFromXTraceid(`${id}1`));
    assert.match(parentSpanIdFromXTraceid(id), /^[0-9a-f]{16}$/);
  });

  it('derives what another service derives: fixed vectors computed outside this code', () => {
    // printf %s "$X" | sha256sum | cut -c1-32           (the trace id)
    // printf %s "span:$X" | sha256sum | cut -c1-16      (the virtual parent span id)
    const vectors: [string, string, string][] = [
      [
        'kc6VPyopDSu1oujiYw7v8SY76M-7YpRKyiPnQs5HPGgPtvmGkBOnrwgQbz',
        '38bd24d6c60cc231fe8d6d35f7a4d470',
        'a8ee83b010117988',
      ],
      ['probe-1', '52aaae2ec0378ec1adf9e9cd95d7dd00', 'f40c0dd29bdc3aa6'],
    ];
    for (const [xTraceid, traceId, parentSpanId] of vectors) {
      assert.equal(traceIdFromXTraceid(xTraceid), traceId);
      assert.equal(parentSpanIdFromXTraceid(xTraceid), parentSpanId);
    }
  });

  it('maps an id that is already a W3C trace id onto itself, so generated ids find their trace', () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    assert.equal(newXTraceid(traceId), traceId);
    assert.equal(traceIdFromXTraceid(traceId), traceId);
    assert.notEqual(traceIdFromXTraceid('0'.repeat(32)), '0'.repeat(32));
    assert.match(newXTraceid(undefined), /^[0-9a-f]{32}$/);
  });
});

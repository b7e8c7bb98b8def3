import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fits, parseQuota } from './quota.store.js';

describe(parseQuota.name, () => {
  it('reads KooDrive accounting records, and counts anything else as no record', () => {
    assert.deepEqual(parseQuota('{"used": 10, "limit": 100}'), { used: 10, limit: 100 });
    for (const bad of [
      '',
      '[]',
      'null',
      '{"used": -1, "limit": 5}',
      '{"used": 1}',
      '{"used": "1", "limit": 2}',
      '{"used": 1.5, "limit": 2}',
    ]) {
      assert.equal(parseQuota(bad), null, bad);
    }
  });

  it('lets a file fit up to the limit exactly, and always without a record', () => {
    assert.equal(fits({ used: 90, limit: 100 }, 10), true);
    assert.equal(fits({ used: 90, limit: 100 }, 11), false);
    assert.equal(fits(null, Number.MAX_SAFE_INTEGER), true);
  });
});

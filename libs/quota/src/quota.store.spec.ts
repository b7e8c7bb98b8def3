import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fits, parseQuota } from './quota.store.js';

describe(parseQuota.name, () => {
  it("reads KooDrive's accounting records, and no record as no limit", () => {
    assert.deepEqual(parseQuota('{"used": 10, "limit": 100}'), { state: 'set', used: 10, limit: 100 });
    assert.deepEqual(parseQuota('{"limit":0,"used":0}'), { state: 'set', used: 0, limit: 0 });
    assert.deepEqual(parseQuota(`{"used":0,"limit":${2 ** 53 - 1}}`), { state: 'set', used: 0, limit: 2 ** 53 - 1 });
    assert.deepEqual(parseQuota(null), { state: 'none' });
  });

  it('names what is wrong with a record that is not exactly {used, limit} of whole bytes, never "no limit"', () => {
    const cases: [string, RegExp][] = [
      ['', /^not JSON/],
      ['{"used":0,"limit":10', /^not JSON/],
      ['\uFEFF{"used":0,"limit":10}', /^not JSON/],
      ['[]', /^not a JSON object: \[\]/],
      ['null', /^not a JSON object: null/],
      ['42', /^not a JSON object: 42/],
      ['{"used": 1}', /^fields \["used"\]/],
      ['{"used": 1, "limit": 2, "extra": 3}', /^fields/],
      ['{"used": "1", "limit": 2}', /^used is "1", not an integer/],
      ['{"used": 1.5, "limit": 2}', /^used is 1.5/],
      ['{"used": -1, "limit": 5}', /^used is -1/],
      ['{"used": 0, "limit": 1e300}', /^limit is 1e\+300/],
      [`{"used": 0, "limit": ${2 ** 53}}`, /^limit is 9007199254740992/],
      ['{"used": 0, "limit": null}', /^limit is null/],
      [`{"used":0,"limit":1${'0'.repeat(2000)}}`, /characters long$/],
    ];
    for (const [raw, reason] of cases) {
      const record = parseQuota(raw);
      assert.equal(record.state, 'malformed', raw);
      assert.match(record.state === 'malformed' ? record.reason : '', reason, raw);
    }
  });
});

describe(fits.name, () => {
  it('lets a file fit up to the limit exactly, counting what open tasks hold, and always without a record', () => {
    const quota = { state: 'set', used: 90, limit: 100 } as const;
    assert.equal(fits(quota, 0, 10), true);
    assert.equal(fits(quota, 0, 11), false);
    assert.equal(fits(quota, 5, 5), true);
    assert.equal(fits(quota, 5, 6), false);
    assert.equal(fits({ state: 'none' }, 0, Number.MAX_SAFE_INTEGER), true);
    assert.equal(fits({ state: 'malformed', reason: 'x' }, 0, 0), false);
  });
});

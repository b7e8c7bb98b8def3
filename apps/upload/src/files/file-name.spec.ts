import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timestampedName } from './file-name.js';

describe(timestampedName.name, () => {
  const now = new Date('2026-11-24T15:30:12.345Z');

  it('puts the timestamp before the extension', () => {
    assert.equal(timestampedName('report.pdf', now, 0), 'report_20261124153012.pdf');
    assert.equal(timestampedName('archive', now, 0), 'archive_20261124153012');
    assert.equal(timestampedName('.bashrc', now, 0), '.bashrc_20261124153012');
    assert.equal(timestampedName('report.pdf', now, 2), 'report_20261124153012-2.pdf');
  });

  it('stays within 250 characters', () => {
    const name = timestampedName(`${'x'.repeat(250)}.txt`, now, 1);
    assert.equal(name.length, 250);
    assert.ok(name.endsWith('_20261124153012-1.txt'));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatEta, formatRate, plainLine, ProgressReporter, renderBar, ttyLine } from './progress.js';
import { MIB } from '@koodrive/limits';

describe('progress formatting', () => {
  it('formats bytes in binary units', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(24 * MIB), '24.0 MiB');
    assert.equal(formatBytes(300 * MIB), '300.0 MiB');
    assert.equal(formatBytes(5 * 1024 * MIB), '5.0 GiB');
  });

  it('formats rates and ETAs', () => {
    assert.equal(formatRate(31.44 * MIB), '31.4 MiB/s');
    assert.equal(formatRate(null), '-- MiB/s');
    assert.equal(formatEta(0), '0:00');
    assert.equal(formatEta(61.2), '1:02');
    assert.equal(formatEta(3725), '1:02:05');
    assert.equal(formatEta(null), '--:--');
    assert.equal(formatEta(Infinity), '--:--');
  });

  it('draws a bar of the done fraction', () => {
    assert.equal(renderBar(0, 10), '[----------]');
    assert.equal(renderBar(0.5, 10), '[#####-----]');
    assert.equal(renderBar(1.2, 10), '[##########]');
  });

  it('puts bar, bytes, rate and ETA on one line', () => {
    const snapshot = { phase: 'uploading', done: 6 * MIB, total: 24 * MIB, rate: 2 * MIB };
    assert.equal(
      ttyLine(snapshot),
      'uploading [######------------------]  25.0%  6.0 MiB/24.0 MiB  2.0 MiB/s  ETA 0:09',
    );
    assert.equal(plainLine(snapshot), 'uploading 25% 6.0 MiB/24.0 MiB 2.0 MiB/s ETA 0:09');
    assert.equal(
      plainLine({ phase: 'hashing', done: 0, total: 0, rate: null }),
      'hashing 100% 0 B/0 B -- MiB/s ETA 0:00',
    );
  });
});

describe(ProgressReporter.name, () => {
  function reporter(tty: boolean) {
    const out: string[] = [];
    const clock = { now: 0 };
    const progress = new ProgressReporter({
      out: { write: (text: string) => out.push(text) },
      tty,
      now: () => clock.now,
    });
    return { out, clock, progress };
  }

  it('writes a plain line per 5 % step, and one every 2 s while bytes move', () => {
    const { out, clock, progress } = reporter(false);
    progress.start('uploading', 100);
    for (let i = 0; i < 100; i++) {
      clock.now += 10;
      progress.add(1);
    }
    progress.finish();
    assert.equal(out.length, 21);
    assert.ok(out.every((line) => line.endsWith('\n') && line.startsWith('uploading ')));
    assert.match(out.at(-1)!, /^uploading 100% /);

    const slow = reporter(false);
    slow.progress.start('uploading', 1000);
    slow.clock.now += 2500;
    slow.progress.add(1);
    slow.clock.now += 2500;
    slow.progress.add(0);
    // the start, then one line after 2 s with new bytes; nothing for a stall
    assert.equal(slow.out.length, 2);
    assert.match(slow.out[1]!, /^uploading 0% 1 B\/1000 B /);
  });

  it('counts bytes done before this run as done, not into the rate', () => {
    const { out, clock, progress } = reporter(false);
    progress.start('uploading', 10 * MIB, 5 * MIB);
    clock.now += 1000;
    progress.add(MIB);
    assert.match(out.at(-1)!, /^uploading 60% 6\.0 MiB\/10\.0 MiB 1\.0 MiB\/s ETA 0:04\n$/);
    assert.deepEqual(progress.summary(), { bytes: MIB, ms: 1000 });
  });

  it('redraws one line on a terminal, at most every 100 ms, and ends it', () => {
    const { out, clock, progress } = reporter(true);
    progress.start('hashing', 100);
    progress.add(10);
    clock.now += 150;
    progress.add(10);
    progress.finish();
    assert.equal(out.length, 4);
    assert.ok(out.slice(0, 3).every((text) => text.startsWith('\r\x1b[2Khashing [')));
    assert.equal(out[3], '\n');
  });
});
